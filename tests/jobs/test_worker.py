"""The worker inside `almanac serve`: started from the state, stopped cleanly."""

from __future__ import annotations

from almanac.background import task_blueprints
from almanac.config import JobsSettings
from almanac.jobs.queue import enqueue
from almanac.jobs.worker import start_embedded_worker, stop_embedded_worker
from almanac.state import AppState
from tests.jobs.conftest import scalar, wait_for_job


async def test_embedded_worker_runs_almanac_jobs_and_stops(committed_state: AppState):
    task = await start_embedded_worker(committed_state, task_blueprints())
    assert task is not None
    try:
        async with committed_state.sessionmaker() as session:
            job_id = await enqueue(
                session, "almanac:retention", args={"days": 100_000}, queue="maintenance"
            )
            await session.commit()
        row = await wait_for_job(committed_state.engine, job_id)
        assert row.status == "succeeded"
    finally:
        await stop_embedded_worker(task)
    assert task.done()
    # The worker unregistered itself on the way out.
    assert await scalar(committed_state.engine, "SELECT count(*) FROM procrastinate_workers") == 0


async def test_embedded_worker_can_be_turned_off(committed_state: AppState):
    committed_state.settings.jobs = JobsSettings(embedded_worker=False)
    assert await start_embedded_worker(committed_state, []) is None
    await stop_embedded_worker(None)
