"""Background tasks of the Scheduler: the calendar sync replans plans new events collide with.

The rules every task follows (idempotent, state from `jobs.context`) are in `almanac.jobs`.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate

from almanac.calendars.base import ApplyResult, CalendarSlow, CalendarUnavailable
from almanac.calendars.bounds import job_lock_wait
from almanac.db.limits import bound_lock_wait
from almanac.db.uow import unit_of_work
from almanac.errors import Busy
from almanac.jobs.app import Backoff
from almanac.jobs.context import get_state, set_state
from almanac.jobs.repository import (
    MAX_BUSY_RETRIES,
    clear_reason,
    set_reason,
    uncount_attempt,
)
from almanac.scheduler.forgetting import TASK as FORGET_TASK
from almanac.scheduler.forgetting import delete_plan_blocks
from almanac.scheduler.pending import TASK as WRITE_TASK
from almanac.scheduler.pending import write_blocks
from almanac.scheduler.sync import sync_calendar
from almanac.state import AppState

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "set_state"]


# Idempotent: once replanned (or warned), a plan's blocks settle and a rerun changes nothing.
# A writers' lock held past the wait is `Busy`: retried shortly (jobs.app.Backoff), and
# not counted as an attempt.
@blueprint.task(
    name="calendar_sync", queue="maintenance", retry=Backoff(max_attempts=3), pass_context=True
)
async def calendar_sync(context: procrastinate.JobContext) -> None:
    """Replan scheduled plans that new calendar events collide with."""
    state = get_state()
    job_id = _job_id(context)
    try:
        report = await sync_calendar(state)
    except Busy:
        await busy_is_no_attempt(state, job_id)
        raise
    failed = report.incomplete()
    if job_id is not None:  # the reason a plan could not be checked, in the jobs list
        async with unit_of_work(state.sessionmaker) as uow:
            if failed is None:
                await clear_reason(uow.session, job_id)
            else:
                await set_reason(uow.session, job_id, failed.message)
    logger.info(
        "calendar sync: %d plans checked, %d replanned, %d with warnings changed, %d failed",
        len(report.checked),
        len(report.replanned),
        len(report.warned),
        len(report.failed),
    )
    if failed is not None:
        # The plans checked are committed, one by one; the retry checks them again (a no-op).
        raise failed


# Idempotent: a rerun finds the blocks gone. Retried for about a day while the calendar is
# down (backoff capped at an hour), since the client asked to be forgotten.
@blueprint.task(
    name=FORGET_TASK.split(":", 1)[1],
    queue="maintenance",
    retry=Backoff(max_attempts=30, base_seconds=10.0, max_seconds=3600.0),
)
async def forget_calendar_blocks(plan_ids: list[int], start: str, end: str) -> None:
    """Delete a forgotten client's blocks from the external calendar."""
    state = get_state()
    async with unit_of_work(state.sessionmaker) as uow:
        args = {"plan_ids": plan_ids, "start": start, "end": end}
        deleted = await delete_plan_blocks(uow.session, state.settings, state.cache, args)
    logger.info("forgotten client's calendar blocks deleted: %d", deleted)


# Idempotent: the diff finds what an earlier attempt wrote, and a plan with a newer run
# is left alone. Retried for about a day while the calendar is down (backoff capped at an
# hour); without end while it answers too slowly to be written under the writers' lock
# (`CalendarSlow`: /health says so, with the reason) or that lock is busy.
@blueprint.task(
    name=WRITE_TASK.split(":", 1)[1],
    queue="maintenance",
    retry=Backoff(max_attempts=30, base_seconds=10.0, max_seconds=3600.0, forever=(CalendarSlow,)),
    pass_context=True,
)
async def write_calendar_blocks(
    context: procrastinate.JobContext,
    runs: dict[str, int],
    events: list[dict[str, Any]],
    start: str,
    end: str,
) -> None:
    """Write a saved schedule to the calendar that was unavailable when it was made."""
    job_id = _job_id(context)
    args = {"runs": runs, "events": events, "start": start, "end": end}
    await run_write_calendar_blocks(args, job_id=job_id)


async def run_write_calendar_blocks(
    args: dict[str, Any], *, job_id: int | None = None
) -> ApplyResult | None:
    """One attempt at a pending calendar write, in its own transaction. A calendar that
    fails leaves its reason on the job (the jobs list, /health); success clears it."""
    state = get_state()
    runs = args["runs"]
    try:
        async with unit_of_work(state.sessionmaker) as uow:
            bound_lock_wait(uow.session, job_lock_wait(state.settings))
            result = await write_blocks(uow.session, state.settings, state.cache, args)
            if job_id is not None:
                await clear_reason(uow.session, job_id)
    except Busy as exc:
        # Another writer holds the schedule (a request writing a slow calendar): the job
        # stays queued and is retried shortly; nothing was written.
        logger.info("calendar busy: pending calendar write of runs %s waits: %s", runs, exc)
        await busy_is_no_attempt(state, job_id)
        raise
    except CalendarUnavailable as exc:  # rolled back: the reason is noted on its own
        if job_id is not None:
            async with unit_of_work(state.sessionmaker) as uow:
                await set_reason(uow.session, job_id, exc.message)
        raise
    if result is None:
        logger.info("pending calendar write of runs %s superseded or forgotten", runs)
    else:
        logger.info("pending calendar write of runs %s done: %s", runs, vars(result))
    return result


def _job_id(context: procrastinate.JobContext) -> int | None:
    return context.job.id if context.job is not None else None


async def busy_is_no_attempt(state: AppState, job_id: int | None) -> None:
    """procrastinate counts every retry as an attempt; a `Busy` one is taken back, so a job
    that waited out many busy spells still gets its whole retry budget for real failures
    (up to `MAX_BUSY_RETRIES` spells: then they count, so one never free ends the job)."""
    if job_id is not None:
        async with unit_of_work(state.sessionmaker) as uow:
            if not await uncount_attempt(uow.session, job_id):
                logger.warning(
                    "job %s stayed busy %d times: this retry counts as an attempt",
                    job_id,
                    MAX_BUSY_RETRIES,
                )
