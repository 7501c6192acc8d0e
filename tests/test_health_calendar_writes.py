"""/health's calendar entry counts schedule writes still queued for a remote calendar and
those that failed for good: their blocks are missing from the user's calendar. The built-in
calendar cannot queue a write, so it is not asked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from almanac.calendars.base import EventSpec
from almanac.config import CalDAVCalendarSettings
from almanac.health import DependencyStatus
from almanac.scheduler.pending import TASK, queue_write
from almanac.state import AppState

START = datetime(2026, 12, 7, 9, tzinfo=UTC)


async def queue_one(state: AppState) -> int:
    spec = EventSpec("almanac-1-0", "Write report", START, START + timedelta(hours=1), "")
    async with state.sessionmaker() as session:
        job_id = await queue_write(session, {1: 1}, [spec], (START, START + timedelta(days=5)))
        await session.commit()
    return job_id


async def fail_for_good(state: AppState, job_id: int) -> None:
    """What a worker does when the last retry fails: doing, then failed."""
    async with state.sessionmaker() as session:
        await session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )
        await session.execute(
            text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)"), {"id": job_id}
        )
        await session.commit()


async def calendar_entry(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    return {"overall": body["status"], **body["dependencies"]["calendar"]}


@pytest.fixture
def remote_calendar(committed_state: AppState) -> AppState:
    """A CalDAV calendar whose last probe (cached by /health for minutes) answered: the
    entry's status then depends on the queued writes alone."""
    calendar = CalDAVCalendarSettings(caldav_url="http://127.0.0.1:9/dav/")
    committed_state.settings = committed_state.settings.model_copy(update={"calendar": calendar})
    ok = DependencyStatus(status="ok", required=False, detail="caldav")
    committed_state.probes["calendar"] = (time.monotonic(), ok)
    return committed_state


async def test_pending_and_failed_calendar_writes_degrade_the_calendar(
    remote_calendar: AppState, committed_client: httpx.AsyncClient
):
    committed_state = remote_calendar
    before = await calendar_entry(committed_client)
    assert before["status"] == "ok" and "pending" not in (before["detail"] or "")

    queued = await queue_one(committed_state)
    entry = await calendar_entry(committed_client)
    assert entry["status"] == "degraded" and entry["overall"] == "degraded"
    assert "1 calendar write(s) pending" in entry["detail"]
    assert "failed" not in entry["detail"]

    second = await queue_one(committed_state)
    await fail_for_good(committed_state, queued)
    entry = await calendar_entry(committed_client)
    assert entry["status"] == "degraded"
    assert "1 calendar write(s) pending" in entry["detail"]
    assert "1 failed for good" in entry["detail"]
    assert TASK in entry["detail"]

    await fail_for_good(committed_state, second)  # nothing pending, two lost
    entry = await calendar_entry(committed_client)
    assert entry["status"] == "degraded"
    assert "pending" not in entry["detail"] and "2 failed for good" in entry["detail"]


async def test_the_builtin_calendar_is_not_degraded_by_writes_queued_for_another(
    committed_state: AppState, committed_client: httpx.AsyncClient
):
    """A write queued while a CalDAV calendar was configured does not concern the built-in
    calendar in use now (it writes in the request and never queues)."""
    assert committed_state.settings.calendar.provider == "builtin"
    await queue_one(committed_state)
    entry = await calendar_entry(committed_client)
    assert entry["status"] == "ok" and entry["overall"] == "ok", entry
    assert "pending" not in (entry["detail"] or "")
