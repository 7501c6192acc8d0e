"""Deferring in the caller's transaction, retries with backoff, and dead workers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import procrastinate
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.background import task_blueprints
from almanac.jobs.app import Backoff, build_app, to_conninfo
from almanac.jobs.queue import JobAlreadyQueued, enqueue
from almanac.state import AppState
from tests.jobs.conftest import running_worker, scalar, wait_for_job

ROOT = Path(__file__).resolve().parents[2]


def test_conninfo_from_sqlalchemy_urls():
    info = to_conninfo(
        "postgresql+asyncpg://ann:p%40ss@db.example:5433/almanac"
        "?ssl=true&prepared_statement_cache_size=0"
    )
    assert "host=db.example" in info and "port=5433" in info and "dbname=almanac" in info
    assert "password=p@ss" in info and "sslmode=require" in info
    assert "prepared" not in info
    embedded = to_conninfo("postgresql+asyncpg://postgres@/almanac?host=/tmp/sock")
    assert "host=/tmp/sock" in embedded and "user=postgres" in embedded


def test_backoff_grows_exponentially_and_is_capped():
    backoff = Backoff(max_attempts=3, base_seconds=1.0, max_seconds=5.0)
    assert [backoff.delay(n) for n in range(4)] == [1.0, 2.0, 4.0, 5.0]


def test_app_has_almanac_and_observer_tasks(settings, pg_url):
    app = build_app(settings, pg_url, task_blueprints())
    assert {"almanac:retention", "observer:reflect", "observer:extract_facts"} <= set(app.tasks)
    # A bare `retry=2` on the observer's task becomes a waiting backoff, same count.
    strategy = app.tasks["observer:reflect"].retry_strategy
    assert isinstance(strategy, Backoff) and strategy.max_attempts == 2
    # Building a second App does not rename the module's blueprint tasks.
    again = build_app(settings, pg_url, task_blueprints())
    assert "observer:reflect" in again.tasks
    assert "almanac:calendar_sync" in again.tasks


async def test_enqueue_in_rolled_back_transaction_leaves_no_job(committed_state: AppState):
    async with committed_state.sessionmaker() as session:
        job_id = await enqueue(session, "tests:record", args={"key": "gone"})
        assert job_id > 0
        await session.rollback()
    assert await scalar(committed_state.engine, "SELECT count(*) FROM procrastinate_jobs") == 0


async def test_committed_job_is_run_by_a_worker(
    committed_state: AppState, effects: None, test_app: procrastinate.App
):
    async with committed_state.sessionmaker() as session:
        job_id = await enqueue(session, "tests:record", args={"key": "kept"})
        await session.commit()
    async with running_worker(committed_state, test_app):
        row = await wait_for_job(committed_state.engine, job_id)
    assert row.status == "succeeded"
    assert await scalar(committed_state.engine, "SELECT key FROM job_test_effects") == "kept"


async def test_duplicate_queueing_lock_keeps_the_transaction_usable(committed_state: AppState):
    async with committed_state.sessionmaker() as session:
        first = await enqueue(session, "tests:record", args={"key": "a"}, queueing_lock="one")
        with pytest.raises(JobAlreadyQueued):
            await enqueue(session, "tests:record", args={"key": "b"}, queueing_lock="one")
        await session.commit()
    ids = await scalar(committed_state.engine, "SELECT array_agg(id) FROM procrastinate_jobs")
    assert ids == [first]


async def test_failing_job_is_retried_with_backoff_until_it_succeeds(
    committed_state: AppState, effects: None, test_app: procrastinate.App
):
    async with committed_state.sessionmaker() as session:
        job_id = await enqueue(session, "tests:flaky", args={"key": "third time"})
        await session.commit()
    async with running_worker(committed_state, test_app):
        row = await wait_for_job(committed_state.engine, job_id)
    assert (row.status, row.attempts) == ("succeeded", 3)
    events = await scalar(
        committed_state.engine,
        "SELECT array_agg(type::text ORDER BY id) FROM procrastinate_events WHERE job_id = :id",
        id=job_id,
    )
    assert events.count("deferred_for_retry") == 2 and events[-1] == "succeeded"
    # Each retry was scheduled in the future (backoff), not run at once.
    assert events.count("scheduled") == 2


async def test_job_of_a_killed_worker_runs_again_without_duplicating_its_effect(
    committed_state: AppState, effects: None, test_app: procrastinate.App, pg_url: str
):
    engine: AsyncEngine = committed_state.engine
    async with committed_state.sessionmaker() as session:
        job_id = await enqueue(session, "tests:stall", args={"key": "once"})
        await session.commit()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.jobs.stall_worker", pg_url, cwd=ROOT, env=env
    )
    try:
        # The doomed worker has committed the effect and is stuck inside the job.
        async def effect_written() -> None:
            while not await scalar(engine, "SELECT count(*) FROM job_test_effects"):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(effect_written(), 60)
        doing = await wait_for_job(engine, job_id, ("doing",))
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    # Its heartbeat stops; age it instead of waiting out `stalled_after_seconds`.
    async with engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(
            text(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = :id"
            ),
            {"id": doing.worker_id},
        )
    async with running_worker(committed_state, test_app):
        row = await wait_for_job(engine, job_id)
    assert row.status == "succeeded"
    assert await scalar(engine, "SELECT count(*) FROM job_test_effects") == 1
    started = await scalar(
        engine,
        "SELECT count(*) FROM procrastinate_events WHERE job_id = :id AND type = 'started'",
        id=job_id,
    )
    assert started == 2
