"""A remote calendar slower to read than a call under the writers' lock may take.

A pending calendar write cannot hold the lock for that long (calendars/bounds.py), so it
cannot write; it must not fail for good either. It stays queued and is retried whatever its
attempts so far, the job keeps the reason, /health's calendar entry is degraded saying
why and what to change, and once the calendar reads in time the write goes through: every
block once.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
from procrastinate.jobs import Job
from sqlalchemy import text

from almanac.calendars.base import CalendarSlow
from almanac.config import GoogleCalendarSettings, SchedulerSettings
from almanac.health import DependencyStatus
from almanac.jobs.context import set_state
from almanac.jobs.repository import get_job
from almanac.scheduler.pending import TASK
from almanac.scheduler.tasks import run_write_calendar_blocks, write_calendar_blocks
from almanac.state import AppState
from tests.calendars.shapes import connect
from tests.doubles.google_calendar import FakeGoogle
from tests.scheduler.conftest import TZ_NAME
from tests.scheduler.races import body, chain, current_blocks, plans

LOCK = 2.0  # a quarter, 0.5 s, per remote call
READS = "GET /calendar/v3/calendars/primary/events"


async def calendar_entry(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.get("/health")
    assert response.status_code == 200
    return dict(response.json()["dependencies"]["calendar"])


async def test_a_calendar_too_slow_to_read_keeps_its_write_pending_and_health_says_why(
    committed_state: AppState,
    committed_client: httpx.AsyncClient,
    google: FakeGoogle,
    cal_settings: GoogleCalendarSettings,
) -> None:
    state = committed_state
    state.settings = state.settings.model_copy(
        update={
            "timezone": TZ_NAME,
            "calendar": cal_settings,
            "scheduler": SchedulerSettings(time_limit_seconds=0.3, write_lock_timeout_seconds=LOCK),
        }
    )
    set_state(state)
    # The last probe answered: the entry's status depends on the queued write alone.
    state.probes["calendar"] = (time.monotonic(), DependencyStatus(status="ok", required=False))
    async with state.sessionmaker() as session:
        await connect(session, google)
        await session.commit()
    (plan,) = await plans(state, chain(2, 1.0))
    google.fail(503, times=50, match="POST /batch")  # Google fails the write: queued
    r = await committed_client.post("/api/v1/scheduler/schedule", json=body(plan))
    assert r.status_code == 200 and r.json()["calendar"]["pending"], r.text
    google.faults.clear()
    async with state.sessionmaker() as session:
        job_id, args = (
            await session.execute(
                text("SELECT id, args FROM procrastinate_jobs WHERE task_name = :t"), {"t": TASK}
            )
        ).one()

    google.slow_seconds, google.slow_match = 1.0, READS  # now reading the window takes 1 s
    with pytest.raises(CalendarSlow, match="reading the window within 0.5 s") as caught:
        await run_write_calendar_blocks(dict(args), job_id=job_id)
    assert "write_lock_timeout_seconds" in caught.value.message  # what to change
    assert not [e for e in google.live_events() if "extendedProperties" in e]  # nothing written

    # Not a failure for good: retried whatever the attempts so far, the reason kept.
    worn = Job(id=job_id, queue="maintenance", lock=None, queueing_lock=None, task_name=TASK)
    strategy = write_calendar_blocks.retry_strategy
    assert strategy is not None
    decision = strategy.get_retry_decision(exception=caught.value, job=worn.evolve(attempts=99))
    assert decision is not None and decision.retry_at is not None
    async with state.sessionmaker() as session:
        row = await get_job(session, job_id)
    assert row is not None and "reading the window" in (row.reason or "")
    entry = await calendar_entry(committed_client)
    assert entry["status"] == "degraded"
    assert "1 calendar write(s) pending" in entry["detail"]
    assert "reading the window within 0.5 s" in entry["detail"], entry["detail"]

    # Reads in time again: the retry writes every block once. The bound is widened for this
    # part (a quarter of 20 s), which checks the write, not the bound: at 0.5 s a loaded
    # machine's ordinary read could miss it.
    google.slow_seconds = 0.0
    state.settings = state.settings.model_copy(
        update={"scheduler": SchedulerSettings(time_limit_seconds=0.3)}
    )
    result = await run_write_calendar_blocks(dict(args), job_id=job_id)
    assert result is not None and result.created
    live = Counter(
        e["extendedProperties"]["private"]["almanacId"]
        for e in google.live_events()
        if "extendedProperties" in e
    )
    want = {f"plan{plan}-{b['task_key']}-{b['chunk']}" for b in await current_blocks(state, plan)}
    assert set(live) == want and max(live.values()) == 1, live
    async with state.sessionmaker() as session:
        row = await get_job(session, job_id)
    assert row is not None and row.reason is None
