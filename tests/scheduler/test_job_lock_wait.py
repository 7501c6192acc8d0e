"""Jobs wait for the schedule writers' lock as requests do: at most the write-lock timeout.

A pending calendar write or a calendar sync arriving while a request holds the lock (say,
writing to a slow calendar) gives up after `scheduler.write_lock_timeout_seconds` with
`Busy`, logged as "calendar busy", and is retried shortly whatever its attempts so far: it
stays queued, nothing is lost, and no connection waits into the client's command timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from procrastinate import JobContext
from procrastinate.jobs import Job
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.errors import Busy
from almanac.jobs.context import set_state
from almanac.jobs.repository import MAX_BUSY_RETRIES, uncount_attempt
from almanac.scheduler.sync import sync_calendar
from almanac.scheduler.tasks import (
    calendar_sync,
    run_write_calendar_blocks,
    write_calendar_blocks,
)
from almanac.state import AppState
from tests.scheduler.conftest import make_plan, next_monday

WAIT = 0.5  # the write-lock timeout in these tests
# Past this a job is taken to wait for the holder (for ever here): well under the default
# lock timeout (20 s), and roomy for the rest of the job on a loaded machine.
GAVE_UP = 15.0


@asynccontextmanager
async def lock_held(engine: AsyncEngine) -> AsyncIterator[None]:
    """The writers' lock held by another transaction (a request writing a slow calendar)."""
    async with engine.connect() as conn, conn.begin():
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('almanac.calendar_entries.apply'))")
        )
        yield


def _args() -> dict[str, Any]:
    start = datetime.combine(next_monday(), datetime.min.time(), tzinfo=UTC)
    return {
        "runs": {"1": 1},
        "events": [],
        "start": start.isoformat(),
        "end": (start + timedelta(days=5)).isoformat(),
    }


@pytest.fixture
def busy_state(sched_state: AppState) -> AppState:
    scheduler = sched_state.settings.scheduler
    sched_state.settings.scheduler = scheduler.model_copy(
        update={"write_lock_timeout_seconds": WAIT}
    )
    set_state(sched_state)
    return sched_state


async def test_a_pending_write_gives_up_on_a_held_lock_after_the_lock_timeout(
    busy_state: AppState, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="almanac")
    async with lock_held(engine):
        started = time.perf_counter()
        with pytest.raises(Busy):
            # Without a bound it would wait as long as the holder (here: for ever).
            await asyncio.wait_for(run_write_calendar_blocks(_args()), GAVE_UP)
        waited = time.perf_counter() - started
    assert WAIT * 0.9 <= waited, waited  # it did wait for the lock, then gave up
    assert "calendar busy" in caplog.text
    assert "server did not answer" not in caplog.text


async def test_a_calendar_sync_gives_up_on_a_held_lock_and_says_calendar_busy(
    busy_state: AppState, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="almanac")
    async with busy_state.sessionmaker() as session:
        plan = await make_plan(session, [{"key": "a"}], status="scheduled")
        await session.commit()
    try:
        async with lock_held(engine):
            started = time.perf_counter()
            with pytest.raises(Busy):
                await asyncio.wait_for(calendar_sync(_context(None)), GAVE_UP)
            assert time.perf_counter() - started >= WAIT * 0.9
        assert "calendar busy" in caplog.text
        report = await sync_calendar(busy_state)  # the retry, the lock free: it goes through
        assert plan.id in report.checked and not report.failed
    finally:
        async with busy_state.sessionmaker() as session:
            await session.execute(text("DELETE FROM plans WHERE id = :id"), {"id": plan.id})
            await session.commit()


def _context(job_id: int | None) -> JobContext:
    job = None
    if job_id is not None:
        job = Job(id=job_id, queue="maintenance", lock=None, queueing_lock=None, task_name="x")
    return JobContext(
        app=cast(Any, None), job=cast(Job, job), start_timestamp=0.0, abort_reason=lambda: None
    )


@pytest.mark.parametrize("which", ["write", "sync"])
async def test_a_busy_retry_uses_up_no_attempt(
    busy_state: AppState, engine: AsyncEngine, which: str
) -> None:
    """The worker counts each retry as an attempt; a Busy one is taken back, so real
    failures keep their whole budget however many busy spells came before."""
    async with engine.begin() as conn:
        job_id = (
            await conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)"
                    " VALUES ('maintenance', 'x', '{}', 'doing', 2) RETURNING id"
                )
            )
        ).scalar_one()
    try:
        async with lock_held(engine):
            if which == "sync":
                async with busy_state.sessionmaker() as session:  # a plan to sync
                    await make_plan(session, [{"key": "a"}], status="scheduled")
                    await session.commit()
            job = (
                write_calendar_blocks(_context(job_id), **_args())
                if which == "write"
                else calendar_sync(_context(job_id))
            )
            with pytest.raises(Busy):
                # Bounded like the tests above: a lock_timeout that never fires (as in a
                # Postgres started under libfaketime) fails here instead of hanging.
                await asyncio.wait_for(job, GAVE_UP)
        async with engine.begin() as conn:  # what the worker does with the Busy retry
            await conn.execute(
                text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"),
                {"id": job_id},
            )
            attempts = (
                await conn.execute(
                    text("SELECT attempts FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
                )
            ).scalar_one()
        assert attempts == 2
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            )
            await conn.execute(text("DELETE FROM plans WHERE status = 'scheduled'"))


@pytest.mark.parametrize("task", [write_calendar_blocks, calendar_sync])
def test_busy_is_retried_shortly_until_the_attempts_are_spent(task: object) -> None:
    """A busy spell is retried after its Retry-After; the attempts it takes back keep the
    budget whole, and once its busy spells are spent they count, and end the job."""
    strategy = task.retry_strategy  # type: ignore[attr-defined]
    assert strategy is not None
    fresh = Job(id=1, queue="maintenance", lock=None, queueing_lock=None, task_name="x")
    busy = Busy("the schedule stayed busy", headers={"Retry-After": "3"})
    decision = strategy.get_retry_decision(exception=busy, job=fresh)
    assert decision is not None and decision.retry_at is not None
    wait = (decision.retry_at - datetime.now(UTC)).total_seconds()
    assert 1 < wait <= 3.5, wait
    worn = fresh.evolve(attempts=strategy.max_attempts)
    assert strategy.get_retry_decision(exception=busy, job=worn) is None
    assert strategy.get_retry_decision(exception=RuntimeError("bug"), job=worn) is None


@pytest.mark.parametrize("spells", [MAX_BUSY_RETRIES - 1, MAX_BUSY_RETRIES])
async def test_busy_spells_past_the_budget_count_as_attempts(
    busy_state: AppState, engine: AsyncEngine, spells: int
) -> None:
    """A deadlock met on every run was retried for ever: each busy spell took its attempt
    back. Past `MAX_BUSY_RETRIES` the attempt stays counted, so the budget ends the job."""
    async with engine.begin() as conn:
        job_id = (
            await conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)"
                    " VALUES ('maintenance', 'x', '{}', 'doing', 1) RETURNING id"
                )
            )
        ).scalar_one()
        # One counted failure and `spells` busy ones, as the worker's retries record them.
        for _ in range(spells + 1):
            await conn.execute(
                text(
                    "INSERT INTO procrastinate_events (job_id, type) "
                    "VALUES (:id, 'deferred_for_retry')"
                ),
                {"id": job_id},
            )
    try:
        async with busy_state.sessionmaker() as session:
            taken_back = await uncount_attempt(session, job_id)
            await session.commit()
        async with engine.begin() as conn:
            attempts = (
                await conn.execute(
                    text("SELECT attempts FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
                )
            ).scalar_one()
        assert taken_back is (spells < MAX_BUSY_RETRIES)
        assert attempts == (0 if spells < MAX_BUSY_RETRIES else 1)
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            )
