"""The clock: periodic jobs on cron times in the user's time zone, and stalled-job recovery.

procrastinate's own periodic tasks read cron in the machine's clock and drop runs missed
for longer than a few minutes. Here each periodic job has a marker row (`job_schedules`)
holding the last due time deferred. A tick locks the marker, compares it with the latest
due time and defers at most one job, so a machine that was off for three days runs the
daily job once, and two workers on two machines never both defer the same run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import procrastinate
from croniter import croniter
from procrastinate import exceptions
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.config import Settings
from almanac.db.uow import unit_of_work
from almanac.jobs.queue import JobAlreadyQueued, enqueue
from almanac.jobs.repository import ScheduleRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A job deferred at each cron time; `args` gets the due time in the user's zone."""

    name: str
    cron: str
    task: str
    queue: str
    args: Callable[[datetime], dict[str, Any]]


@dataclass(frozen=True)
class Deferred:
    """One run the tick deferred."""

    name: str
    due: datetime
    job_id: int | None  # None: a job for this due time was already waiting


def periodic_jobs(settings: Settings, task_names: Collection[str]) -> list[Periodic]:
    """The periodic jobs whose tasks this App has."""
    jobs = settings.jobs
    found = [
        Periodic("retention", jobs.retention_cron, "almanac:retention", "maintenance", _no_args),
        Periodic(
            "calendar_sync",
            jobs.calendar_sync_cron,
            "almanac:calendar_sync",
            "maintenance",
            _no_args,
        ),
    ]
    if "observer:reflect" in task_names:
        found += [
            Periodic(
                "daily_reflection",
                jobs.daily_reflection_cron,
                "observer:reflect",
                "observer",
                lambda due: {"mode": "daily", "day": due.date().isoformat()},
            ),
            Periodic(
                "weekly_review",
                jobs.weekly_review_cron,
                "observer:reflect",
                "observer",
                lambda due: {"mode": "weekly", "day": due.date().isoformat()},
            ),
        ]
    return [p for p in found if p.task in task_names]


def _no_args(due: datetime) -> dict[str, Any]:
    return {}


def latest_due(cron: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The last cron time at or before `now`, evaluated on the wall clock of `zone`."""
    # croniter's previous time is strictly earlier; a second later includes `now` itself.
    start = (now + timedelta(seconds=1)).astimezone(zone)
    due: datetime = croniter(cron, start).get_prev(datetime)
    return due


def next_due(cron: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The next cron time after `now` in `zone`."""
    due: datetime = croniter(cron, now.astimezone(zone)).get_next(datetime)
    return due


async def _tick_one(session: AsyncSession, job: Periodic, due: datetime) -> Deferred | None:
    # First sight records the current due time without running: a new install (or a new
    # schedule) does not fire a stale run at once.
    markers = ScheduleRepository(session)
    await markers.add(job.name, job.cron, due)
    # The row lock serialises schedulers on other machines; after waiting, they read the
    # marker this transaction moved and defer nothing.
    marker = await markers.lock(job.name)
    if marker.last_due_at is not None and marker.last_due_at >= due:
        if marker.cron != job.cron:
            await markers.set(job.name, cron=job.cron)
        return None
    try:
        job_id: int | None = await enqueue(
            session,
            job.task,
            args=job.args(due),
            queue=job.queue,
            queueing_lock=f"{job.name}@{due.isoformat()}",
        )
    except JobAlreadyQueued:
        job_id = None
    await markers.set(job.name, cron=job.cron, last_due_at=due, last_job_id=job_id)
    return Deferred(job.name, due, job_id)


async def tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    jobs: Sequence[Periodic],
    zone: ZoneInfo,
    now: datetime | None = None,
) -> list[Deferred]:
    """Defer each periodic job whose latest due time has not been deferred yet."""
    moment = now or datetime.now(UTC)
    done: list[Deferred] = []
    for job in jobs:
        async with unit_of_work(sessionmaker) as uow:
            deferred = await _tick_one(uow.session, job, latest_due(job.cron, zone, moment))
        if deferred is not None:
            logger.info("deferred %s for %s (job %s)", job.name, deferred.due, deferred.job_id)
            done.append(deferred)
    return done


async def recover_stalled(app: procrastinate.App, seconds: float) -> list[int]:
    """Put jobs of workers silent for `seconds` back in the queue; returns their ids."""
    recovered = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds):
        try:
            await app.job_manager.retry_job(job)
        except exceptions.ConnectorException:  # another worker recovered it first
            continue
        assert job.id is not None
        logger.warning("job %s (%s) was running on a dead worker; retrying", job.id, job.task_name)
        recovered.append(job.id)
    return recovered


async def run_clock(
    app: procrastinate.App,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Tick forever (until cancelled); a failed tick is logged and tried again."""
    zone = ZoneInfo(settings.timezone)
    jobs = periodic_jobs(settings, app.tasks)
    while True:
        try:
            await tick(sessionmaker, jobs, zone)
            await recover_stalled(app, settings.jobs.stalled_after_seconds)
        except Exception:  # a database blip must not stop the clock
            logger.exception("clock tick failed")
        await asyncio.sleep(settings.jobs.clock_interval_seconds)
