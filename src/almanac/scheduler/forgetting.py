"""Forgetting a client reaches the external calendar: the blocks Almanac wrote there go too.

The built-in calendar's blocks are rows and go in the request's transaction (the planner's
forgetter). CalDAV and Google are outside it, so the deletion is queued as a job in that
transaction -- plan ids and a time span, nothing of the client's content -- and tried once
right after the commit. A calendar that is down keeps the job, which retries until it
answers; Postgres forgets at once either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.factory import build_calendar
from almanac.config import Settings
from almanac.jobs.queue import enqueue
from almanac.memory.forgetting import RemoteForget, Subject
from almanac.planner.repository import PlanRepository
from almanac.scheduler.problem import parse_almanac_id
from almanac.scheduler.repository import SchedulerRepository

TASK = "almanac:forget_calendar_blocks"
_REMOTE = ("caldav", "google")
# Blocks are stored in UTC; a day each side covers providers that round to whole days.
_SLACK = timedelta(days=1)


async def delete_plan_blocks(
    session: AsyncSession, settings: Settings, cache: Cache, args: dict[str, Any]
) -> int:
    """Delete the blocks of `args["plan_ids"]` from the configured calendar; returns how
    many were there. Safe to run again: a second run finds none."""
    plans = {int(p) for p in args["plan_ids"]}

    def owned(almanac_id: str) -> bool:
        parsed = parse_almanac_id(almanac_id)
        return parsed is not None and parsed[0] in plans

    # Not bounded like the writers' (calendars/bounds.py): no lock is held here, and a slow
    # calendar may take its time to delete. `remove` changes only the ids `owned` accepts,
    # so a writer moving other blocks meanwhile loses nothing.
    calendar = build_calendar(
        settings.calendar, session=session, cache=cache, timezone=settings.timezone
    )
    try:
        start = datetime.fromisoformat(args["start"])
        end = datetime.fromisoformat(args["end"])
        return len(await calendar.remove(owned, start, end))
    finally:
        await calendar.close()


async def forget_client_calendar(session: AsyncSession, subject: Subject) -> dict[str, int]:
    """Queue the deletion of a forgotten client's blocks from CalDAV or Google."""
    settings, cache = subject.settings, subject.cache
    if subject.client_id is None or settings is None or cache is None:
        return {}
    if settings.calendar.provider not in _REMOTE:
        return {}
    # The span read must include what a schedule being written adds: let it finish first.
    await SchedulerRepository(session).lock_calendar()
    plan_ids = await PlanRepository(session).ids_of_client(subject.client_id)
    span = await SchedulerRepository(session).blocks_span(plan_ids)
    if span is None:
        return {}
    args = {
        "plan_ids": plan_ids,
        "start": (span[0] - _SLACK).isoformat(),
        "end": (span[1] + _SLACK).isoformat(),
    }
    job_id = await enqueue(session, TASK, args=args, queue="maintenance")

    async def attempt() -> int:
        return await delete_plan_blocks(session, settings, cache, args)

    subject.remote.append(RemoteForget(f"{settings.calendar.provider}_events", job_id, attempt))
    return {}
