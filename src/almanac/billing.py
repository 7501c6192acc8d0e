"""One definition of billable share, used by sprint reports and reflections alike.

Which hours it is taken over is the caller's to say: reflections use hours worked; the
sprint report gives it over hours scheduled and over hours worked, each labelled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any


def billable_share_pct(billable_hours: float, worked_hours: float) -> float | None:
    """Billable hours ÷ worked hours, as a percentage with one decimal; None if none worked."""
    if worked_hours <= 0:
        return None
    return round(100 * billable_hours / worked_hours, 1)


def hours_in(
    entries: Iterable[tuple[datetime, float]],
    actual_hours: float | None,
    at: datetime | None,
    start: datetime,
    end: datetime,
) -> float:
    """The hours of one execution run worked in [start, end), whatever its status.

    Each logged entry counts when its work began (its end minus its hours), so hours logged
    on Tuesday against a task begun on Monday are Tuesday's; hours the entries do not
    account for (a run started and stopped) count at the run's own start, `at`."""
    total = 0.0
    logged = 0.0
    for ended, hours in entries:
        logged += hours
        if start <= ended - timedelta(hours=hours) < end:
            total += hours
    rest = (actual_hours or 0.0) - logged
    if rest > 1e-9 and at is not None and start <= at < end:
        total += rest
    return total


def logged_entries(metadata: Any) -> tuple[tuple[datetime, float], ...]:
    """(ended at, hours) of the entries `TaskService.log_time` keeps in a run's metadata;
    an unreadable entry is left out (its hours then count at the run's start)."""
    raw = metadata.get("entries") if isinstance(metadata, dict) else None
    read = (logged_entry(entry) for entry in (raw if isinstance(raw, list) else ()))
    return tuple(e for e in read if e is not None)


def logged_entry(entry: Any) -> tuple[datetime, float] | None:
    """(ended at, hours) of one such entry; None if it cannot be read."""
    try:
        ended = datetime.fromisoformat(entry["ended_at"])
        hours = float(entry["hours"])
    except (KeyError, TypeError, ValueError):
        return None
    if ended.tzinfo is None or not 0 < hours <= 24:
        return None
    return ended, hours


# A record's place in time: (start, end, what it is, in words for a 409).
Span = tuple[datetime, datetime, str]


def known_spans(
    run_id: int, metadata: Any, started: datetime | None, ended: datetime | None
) -> list[Span]:
    """Where one run of a task says work was done, as far as it is known.

    A time record counts only when its end was given (`timed`): hours recorded without one
    ("2 h, ending now") say how much, not when, and two such in a row are no overlap. A run
    without records counts from its start to its end once both are known."""
    raw = metadata.get("entries") if isinstance(metadata, dict) else None
    if isinstance(raw, list) and raw:
        out: list[Span] = _own_span(run_id, metadata)
        for entry in raw:
            if not (isinstance(entry, dict) and entry.get("timed")):
                continue
            read = logged_entry(entry)
            if read is not None:
                end, hours = read
                start = end - timedelta(hours=hours)
                out.append((start, end, f"the time record of {hours:g} h on run {run_id}"))
        return out
    if started is not None and ended is not None and started < ended:
        return [(started, ended, f"execution run {run_id}")]
    return []


# Hours are given to a hundredth (`types.MIN_WORK_HOURS`, the grain `RunService.stop`
# also allows): records sharing no more than that meet end to start, rounded (20 minutes
# given as 0.34 h, a run started half a minute before a record's end said it ended).
SLACK = timedelta(hours=0.01)


def _own_span(run_id: int, metadata: dict[str, Any]) -> list[Span]:
    """The start and stop a run had when time records were first added to it (`span`,
    kept by `TaskService.log_time`): its own timed work, which its start and end, moved
    to hold the records, no longer say."""
    raw = metadata.get("span")
    if not (isinstance(raw, list) and len(raw) == 2):
        return []
    try:
        start, end = (datetime.fromisoformat(str(t)) for t in raw)
    except ValueError:
        return []
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        return []
    return [(start, end, f"execution run {run_id}")]


def first_overlap(start: datetime, end: datetime, spans: Iterable[Span]) -> Span | None:
    """The first span sharing time with [start, end): more than `SLACK`, or all of either
    (touching ends do not)."""
    for span in spans:
        shared = min(end, span[1]) - max(start, span[0])
        if shared > SLACK or (
            shared > timedelta(0) and shared >= min(end - start, span[1] - span[0])
        ):
            return span
    return None


def overlap_text(start: datetime, end: datetime, span: Span) -> str:
    return (
        f"{start.isoformat()} to {end.isoformat()} overlaps {span[2]} "
        f"({span[0].isoformat()} to {span[1].isoformat()}) on the same task"
    )
