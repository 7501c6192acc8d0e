"""The drift benchmark says what the change detector did: the week (from the drift's) where
the change a probed plan follows began, read from the plan's `change_detected_at`."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from learning_metrics import change_week  # noqa: E402

MONDAY = date(2026, 9, 7)  # week 1 of the simulation


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=UTC)


def test_no_task_naming_a_change_is_none() -> None:
    assert change_week([None, None], MONDAY, 5) is None
    assert change_week([], MONDAY, 5) is None


def test_the_week_is_counted_from_the_drifts_first_week() -> None:
    # Week 5 runs from 2026-10-05 (Monday) to 2026-10-11.
    assert change_week([at("2026-10-05")], MONDAY, 5) == 0
    assert change_week([at("2026-10-09")], MONDAY, 5) == 0
    assert change_week([at("2026-10-12")], MONDAY, 5) == 1
    assert change_week([at("2026-09-25")], MONDAY, 5) == -2  # found before the drift


def test_the_newest_change_among_the_tasks_counts() -> None:
    assert change_week([at("2026-09-25"), None, at("2026-10-13")], MONDAY, 5) == 1
