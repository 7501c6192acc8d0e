"""Job tests: a real procrastinate worker in-process against the embedded Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import procrastinate
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.config import JobsSettings, Settings
from almanac.jobs.app import build_app, to_conninfo
from almanac.jobs.worker import run_worker
from almanac.state import AppState
from tests.jobs import sample_tasks
from tests.jobs.sample_tasks import EFFECTS_DDL


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast polling so tests wait milliseconds, not seconds, between steps."""
    jobs = JobsSettings(
        poll_interval_seconds=0.1, clock_interval_seconds=0.1, stalled_after_seconds=30
    )
    return Settings(data_dir=tmp_path, jobs=jobs, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def effects(
    pg_url: str, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """The table the sample tasks write to."""
    monkeypatch.setenv("ALMANAC_TEST_CONNINFO", to_conninfo(pg_url))
    async with engine.begin() as conn:
        await conn.execute(text(EFFECTS_DDL))
    yield
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE job_test_effects"))


@pytest.fixture
def test_app(settings: Settings, pg_url: str) -> procrastinate.App:
    """An App with the sample tasks under `tests:`."""
    return build_app(settings, pg_url, blueprints=[(sample_tasks.blueprint, "tests")])


@contextlib.asynccontextmanager
async def running_worker(
    state: AppState, app: procrastinate.App, **options: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """A worker (with its clock) running in this event loop for the block's duration."""
    task = asyncio.create_task(
        run_worker(state, [], app=app, install_signal_handlers=False, **options)
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for_job(
    engine: AsyncEngine,
    job_id: int,
    statuses: tuple[str, ...] = ("succeeded", "failed"),
    timeout: float = 30.0,
) -> Any:
    """The job's row once its status is one of `statuses` (fails after `timeout`)."""

    async def poll() -> Any:
        while True:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT id, status::text AS status, attempts, worker_id "
                            "FROM procrastinate_jobs WHERE id = :id"
                        ),
                        {"id": job_id},
                    )
                ).one()
            if row.status in statuses:
                return row
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()
