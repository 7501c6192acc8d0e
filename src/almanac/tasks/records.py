"""A task's time records (pure): a run holding its hours, a retried record's check."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from almanac.errors import Conflict
from almanac.models import ExecutionRun
from almanac.tasks.schemas import TimeIn


def holds_its_hours(run: ExecutionRun, began: datetime, last: datetime) -> None:
    """Start the run early enough for its hours: no earlier than it was, no later than the
    new work began, and at least its hours before its end (or the last work, while open).

    Hours recorded without an end ("2 h, ending now") can add up past the time since the
    run began; a run whose stored hours exceed its start-to-end span says it did more work
    than fits in it (reflections and estimates read both)."""
    end = run.ended_at or last
    hours = float(run.actual_hours or 0)
    starts = [began, end - timedelta(hours=hours)]
    if run.started_at is not None:
        starts.append(run.started_at)
    run.started_at = min(starts)


def same_time(body: TimeIn, entries: Any) -> None:
    """A retry repeats what its idempotency key first recorded; other hours (or an other
    end or note given) under the same key are a 409 naming them, never silently dropped."""
    listed = entries if isinstance(entries, list) else []
    first = next(
        (e for e in listed if isinstance(e, dict) and e.get("key") == body.idempotency_key),
        None,
    )
    if first is None:  # recorded before entries carried their key
        return
    differs = []
    if first.get("hours") != body.hours:
        differs.append("hours")
    if body.ended_at is not None and not _same_instant(first.get("ended_at"), body.ended_at):
        differs.append("ended_at")
    if body.note is not None and first.get("note") != body.note:
        differs.append("note")
    if differs:
        raise Conflict(
            f"idempotency_key {body.idempotency_key!r} already recorded {first.get('hours')} h "
            f"on this task, which differs in {', '.join(differs)}; use a new key for new time",
            errors=[{"field": f, "message": "differs from the retried record"} for f in differs],
        )


def _same_instant(recorded: Any, given: datetime) -> bool:
    """The same end written in another zone (or with other digits) is the same end."""
    try:
        return datetime.fromisoformat(recorded) == given
    except (TypeError, ValueError):
        return False
