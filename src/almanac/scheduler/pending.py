"""A remote calendar failing while a schedule is written does not lose the schedule.

The runs and their blocks are rows, committed with the request; writing them to CalDAV or
Google is the last step. When that step fails with the calendar unavailable, the events it
wanted are queued as a job in the same transaction, and the job retries until the calendar
answers. It is idempotent: `apply` diffs against what is there (a write cut halfway leaves
nothing to duplicate); a plan whose queued run is no longer its latest is written as its
newest run has it (that run wrote or queued only its own span); a plan deleted
meanwhile (its client forgotten) has its blocks left out; and other plans' blocks are taken
from the calendar as it is when the job runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.base import (
    ApplyResult,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    overlaps,
    zone_name,
)
from almanac.calendars.factory import calendar_for
from almanac.config import Settings
from almanac.jobs.queue import enqueue
from almanac.models import SchedulerRun
from almanac.planner.task_repository import TaskRepository
from almanac.redact import redact
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block
from almanac.scheduler.problem import parse_almanac_id
from almanac.scheduler.repository import SchedulerRepository
from almanac.scheduler.schemas import CalendarWriteOut

TASK = "almanac:write_calendar_blocks"
# Calendars outside Postgres: the built-in calendar's rows are written in the transaction.
REMOTE = ("caldav", "google")


def _when(value: datetime) -> list[str]:
    return [value.isoformat(), zone_name(value)]


def _at(value: list[str]) -> datetime:
    return datetime.fromisoformat(value[0]).astimezone(ZoneInfo(value[1]))


def specs_to_json(specs: Sequence[EventSpec]) -> list[dict[str, Any]]:
    """The events as job arguments, each time with its IANA zone (kept across DST)."""
    return [
        {
            "almanac_id": s.almanac_id,
            "title": s.title,
            "start": _when(s.start),
            "end": _when(s.end),
            "description": s.description,
        }
        for s in specs
    ]


def specs_from_json(items: Sequence[dict[str, Any]]) -> list[EventSpec]:
    return [
        EventSpec(i["almanac_id"], i["title"], _at(i["start"]), _at(i["end"]), i["description"])
        for i in items
    ]


async def queue_write(
    session: AsyncSession,
    runs: dict[int, int],
    specs: Sequence[EventSpec],
    window: tuple[datetime, datetime],
) -> int:
    """Queue the calendar write of `runs` (plan id -> run id) in `session`'s transaction."""
    args = {
        "runs": {str(p): r for p, r in runs.items()},
        "events": specs_to_json(specs),
        "start": window[0].isoformat(),
        "end": window[1].isoformat(),
    }
    return await enqueue(session, TASK, args=args, queue="maintenance")


async def write_or_queue(
    calendar: CalendarProvider,
    session: AsyncSession,
    specs: list[EventSpec],
    window: tuple[datetime, datetime],
    runs: dict[int, int],
) -> CalendarWriteOut:
    """Write the events of recorded `runs`; queued (`pending`) when a remote calendar is
    unavailable, so the schedule committed with them reaches it later."""
    try:
        result = await calendar.apply(specs, *window)
    except CalendarUnavailable as exc:
        return await queued(calendar, session, exc, specs, window, runs)
    return CalendarWriteOut(provider=calendar.name, **vars(result))


async def queued(
    calendar: CalendarProvider,
    session: AsyncSession,
    exc: CalendarUnavailable,
    specs: list[EventSpec],
    window: tuple[datetime, datetime],
    runs: dict[int, int],
) -> CalendarWriteOut:
    """`exc` from a remote calendar: queue the write of `runs` and say so (pending); from the
    built-in calendar (rows in this transaction) it is raised."""
    if calendar.name not in REMOTE:
        raise exc
    job = await queue_write(session, runs, specs, window)
    detail = (
        f"{redact(exc.message)}; the schedule is saved and job {job} writes it to the "
        "calendar once the calendar answers"
    )
    return CalendarWriteOut(provider=calendar.name, pending=True, detail=detail)


async def write_blocks(
    session: AsyncSession, settings: Settings, cache: Cache, args: dict[str, Any]
) -> ApplyResult | None:
    """Write the queued events of the plans whose run is still their latest, and the newest
    run's blocks in the queued span for the others; None when every plan was deleted
    meanwhile (a forgotten client)."""
    queued = {int(p): int(r) for p, r in args["runs"].items()}
    repo = SchedulerRepository(session)
    # As every writer of the schedule: a run being written meanwhile is seen, not overwritten.
    await repo.lock_calendar()
    latest = await repo.last_applied_runs(list(queued))
    # Per plan: a newer run of one plan (a task closed, a block moved) writes only that
    # plan, so the others' queued blocks are still to be written. A plan with no run left
    # was deleted: its blocks must not come back (forgetting's own job removes them).
    gone = set(queued) - set(latest)
    runs = {p: r for p, r in queued.items() if p in latest and latest[p].id <= r}
    # A plan with a newer run since: that run wrote (or queued) only its own span (a task
    # closed frees one block), so this job's span is written as the newer run has it.
    newer = {p: latest[p] for p in queued if p in latest and p not in runs}
    if not runs and not newer:
        return None
    # Bounded (calendars/bounds.py): each call gets a quarter of the write-lock timeout, since
    # the writers' lock is held meanwhile and a slow calendar must not stall every local
    # schedule write. What was written stays; the retry's diff writes the rest.
    calendar = calendar_for(settings, session=session, cache=cache)
    try:
        start = datetime.fromisoformat(args["start"])
        end = datetime.fromisoformat(args["end"])
        specs = _ours(specs_from_json(args["events"]), set(runs))
        specs += _current(newer, (start, end), ZoneInfo(settings.timezone))
        # Titles as the tasks have them now: one renamed since the write was queued keeps
        # its new title (written at once, or by the sync), not the queued one.
        specs = _titled(specs, await TaskRepository(session).titles([*runs, *newer]))
        # Other plans' blocks as they are now, not as they were when the write was queued:
        # a run of theirs since then must not be undone.
        specs += others(await calendar.events(start, end), set(runs) | set(newer) | gone)
        return await calendar.apply(specs, start, end)
    finally:
        await calendar.close()


def block_event(plan_id: int, block: Block, title: str, tz: ZoneInfo) -> EventSpec:
    """A plan's block as its calendar event, in the settings' zone (stored runs keep UTC), so
    an event that did not move compares unchanged and keeps its SEQUENCE."""
    return EventSpec(
        pb.almanac_id(plan_id, block.task_id, block.chunk),
        title,
        block.start.astimezone(tz),
        block.end.astimezone(tz),
        f"Almanac plan {plan_id}, task {block.task_id}",
    )


def _current(
    runs: dict[int, SchedulerRun], window: tuple[datetime, datetime], tz: ZoneInfo
) -> list[EventSpec]:
    """The blocks of each plan's newest run in `window`, as events (titled by `_titled`)."""
    return [
        block_event(pid, b, b.task_id, tz)
        for pid, run in runs.items()
        for b in pb.blocks_from_json(run.schedule_blocks)
        if overlaps(b.start, b.end, window)
    ]


def _plan_of(almanac_id: str) -> int | None:
    parsed = parse_almanac_id(almanac_id)
    return parsed[0] if parsed is not None else None


def _titled(specs: list[EventSpec], titles: dict[tuple[int, str], str]) -> list[EventSpec]:
    out = []
    for spec in specs:
        parsed = parse_almanac_id(spec.almanac_id)
        title = titles.get(parsed[:2]) if parsed is not None else None
        out.append(spec if title is None else replace(spec, title=title))
    return out


def _ours(specs: list[EventSpec], plans: set[int]) -> list[EventSpec]:
    return [s for s in specs if _plan_of(s.almanac_id) in plans]


def others(
    events: Sequence[CalendarEvent], plans: set[int], seen: set[str] | None = None
) -> list[EventSpec]:
    """Almanac's events of plans other than `plans` (and not in `seen`), to write unchanged."""
    seen = set() if seen is None else seen
    out: list[EventSpec] = []
    for e in events:
        aid = e.almanac_id
        if aid is None or aid in seen or _plan_of(aid) in plans or e.end <= e.start:
            continue
        seen.add(aid)
        out.append(EventSpec(aid, e.title, e.start, e.end, e.description))
    return out
