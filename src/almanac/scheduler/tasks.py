"""Background tasks of the Scheduler: the calendar sync replans plans new events collide with.

The rules every task follows (idempotent, state from `jobs.context`) are in `almanac.jobs`.
"""

from __future__ import annotations

import logging

import procrastinate

from almanac.jobs.app import Backoff
from almanac.jobs.context import get_state, set_state
from almanac.scheduler.sync import sync_calendar

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()
__all__ = ["blueprint", "get_state", "set_state"]


# Idempotent: once replanned (or warned), a plan's blocks settle and a rerun changes nothing.
@blueprint.task(name="calendar_sync", queue="maintenance", retry=Backoff(max_attempts=3))
async def calendar_sync() -> None:
    """Replan scheduled plans that new calendar events collide with."""
    report = await sync_calendar(get_state())
    logger.info(
        "calendar sync: %d plans checked, %d replanned, %d with warnings changed, %d failed",
        len(report.checked),
        len(report.replanned),
        len(report.warned),
        len(report.failed),
    )
