"""A time record placed in time (an end given) against the other time recorded."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from almanac.billing import first_overlap
from almanac.clock import on_clock
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.runs import refuse_overlap, timer_start


async def placed_in_time(
    runs: OntologyRepository,
    task_id: int,
    began: datetime,
    ended: datetime,
    now: datetime,
    tz: ZoneInfo,
) -> list[str]:
    """A 409 when [began, ended) shares time with another record of the task (the same
    hours counted twice); warnings when it shares time with another task's, which is taken
    (two things may be worked on at once) but said, as the day's hours count both (20 h
    and 20 h on two tasks made a 40 h day without a word)."""
    spans = await runs.task_spans(task_id)
    timer = await runs.open_timer(task_id, ended)
    if timer is not None and timer.started_at is not None:
        # A timer running has no end, so no span yet: a record inside its time was taken,
        # and its stop added the timer's own time to it (counted twice).
        since = timer_start(timer, dict(timer.metadata_ or {})) or timer.started_at
        spans.append((since, now, f"execution run {timer.id}, running since {since}"))
    refuse_overlap(began, ended, spans, "ended_at")
    elsewhere = [
        (s, e, f"{what} of task {t}")
        for (s, e, what), t in await runs.spans_elsewhere(task_id, began, ended)
    ]
    hit = first_overlap(began, ended, elsewhere)
    if hit is None:
        return []
    start, end, what = hit
    return [
        f"these hours share time with {what} ({on_clock(start, tz)} to "
        f"{on_clock(end, tz)}): both count in the day's hours worked"
    ]
