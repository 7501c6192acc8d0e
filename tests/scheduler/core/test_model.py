"""Input checks: naive datetimes and inconsistent problems are rejected with a named field."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from almanac.scheduler.core import Block, Interval, Problem, Task, WorkingWindow

from .helpers import MONDAY, at, make_problem

NAIVE = datetime(2025, 3, 3, 9, 0)


@pytest.mark.parametrize("field", ["deadline", "earliest_start"])
def test_naive_task_datetime_is_rejected_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=rf"task 'a'\.{field} must be timezone-aware"):
        Task("a", "A", 60, **{field: NAIVE})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["now", "horizon_start", "horizon_end"])
def test_naive_problem_datetime_is_rejected_naming_the_field(field: str) -> None:
    kwargs: dict[str, Any] = {"now": at(0, 8), "horizon_start": at(0, 8), "horizon_end": at(5, 0)}
    kwargs[field] = NAIVE
    with pytest.raises(ValueError, match=rf"^{field} must be timezone-aware"):
        Problem(tasks=(), **kwargs)


def test_naive_interval_and_block_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"Interval\.start must be timezone-aware"):
        Interval(NAIVE, at(0, 10))
    with pytest.raises(ValueError, match=r"Block\.end must be timezone-aware"):
        Block("a", 0, at(0, 9), NAIVE)


def test_durations_must_fit_the_slot_grid() -> None:
    with pytest.raises(ValueError, match=r"duration_minutes must be a multiple of 15"):
        make_problem([Task("a", "A", 50)])
    make_problem([Task("a", "A", 50)], slot_minutes=10)


def test_inconsistent_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"depends_on: unknown task 'ghost'"):
        make_problem([Task("a", "A", 60, depends_on=("ghost",))])
    with pytest.raises(ValueError, match="unique"):
        make_problem([Task("a", "A", 60), Task("a", "B", 30)])
    with pytest.raises(ValueError, match="timezone"):
        make_problem([], timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="hard_deadline needs a deadline"):
        Task("a", "A", 60, hard_deadline=True)
    with pytest.raises(ValueError, match="min_chunk_minutes"):
        Task("a", "A", 120, splittable=True, min_chunk_minutes=90, max_chunk_minutes=60)
    with pytest.raises(ValueError, match="WorkingWindow"):
        WorkingWindow(0, time(17), time(9))
    with pytest.raises(ValueError, match="horizon_start must be before"):
        Problem(tasks=(), now=MONDAY, horizon_start=MONDAY, horizon_end=MONDAY)
    with pytest.raises(ValueError, match="pinned blocks exceed"):
        Task("a", "A", 30, pinned=(Interval(at(0, 9), at(0, 10)),))
    with pytest.raises(ValueError, match="billable_share_target"):
        make_problem([], billable_share_target=1.5)
    assert make_problem([], days=1).horizon_end - MONDAY == timedelta(days=1)
