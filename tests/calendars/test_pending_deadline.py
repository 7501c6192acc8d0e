"""A pending calendar write holds the schedule writers' lock while it talks to the remote
calendar: against a slow CalDAV server (real Radicale behind a proxy that delays each PUT)
it stops at its deadline between two writes, writes nothing after it gave up, and the
retry's diff writes the rest, each event once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import CalendarUnavailable, event_uid
from almanac.calendars.bounds import call_deadline
from almanac.config import CalDAVCalendarSettings
from almanac.scheduler.pending import TASK, write_blocks
from almanac.state import AppState
from tests.calendars.conftest import USER
from tests.calendars.faults import FailingProxy, proxy, radicale
from tests.conftest import app_in_transaction, http_client
from tests.scheduler.conftest import make_plan, next_monday, sched_state

__all__ = ["proxy", "radicale", "sched_state"]  # fixtures shared with other test modules

# The write-lock timeout for the slow-write part, a quarter of it (2 s) per calendar call,
# and each PUT's delay: the deadline falls during the second PUT. The read before the PUTs
# is under the same deadline, so it must be roomy on a loaded machine (0.5 s was not).
LOCK = 8.0
PUT_DELAY = 1.2  # under the 2 s socket timeout of each call with room to spare


async def test_a_pending_write_to_a_slow_calendar_stops_at_its_deadline_and_is_finished_later(
    sched_state: AppState, db_session: AsyncSession, proxy: FailingProxy, radicale: Any
) -> None:
    raw = radicale.principal().make_calendar(name="slow-writes")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    settings = sched_state.settings
    settings.calendar = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    plan_id = (await make_plan(db_session, [{"key": k} for k in "abcdef"])).id
    await db_session.commit()  # a savepoint
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "dry_run": False}
    proxy.fail_put, proxy.status = 1, 503  # the schedule is saved, its write queued
    async with http_client(app_in_transaction(sched_state, db_session)) as client:
        r = await client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200 and r.json()["calendar"]["pending"] is True, r.text
    blocks = {event_uid(b["almanac_id"]) for b in r.json()["blocks"]}
    assert len(blocks) >= 5
    args = (
        await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t"), {"t": TASK}
        )
    ).scalar_one()

    # The short lock comes only now: under it the schedule call itself (sync, solve, the
    # failed PUT) had 0.5 s per calendar call and failed on a busy machine.
    roomy = settings.scheduler
    settings.scheduler = roomy.model_copy(update={"write_lock_timeout_seconds": LOCK})
    limit = call_deadline(settings)
    assert limit == LOCK / 4
    proxy.fail_put, proxy.put_delay = 0, PUT_DELAY  # back, but slow: each PUT 1.2 s
    before = proxy.puts
    started = time.perf_counter()
    with pytest.raises(CalendarUnavailable, match=f"did not finish the write within {limit:g} s"):
        await write_blocks(db_session, settings, sched_state.cache, args)
    held = time.perf_counter() - started
    # The deadline, plus the one PUT in flight then (finished before the lock is let go):
    # two PUTs started (slack for a busy machine in both bounds).
    assert proxy.puts - before <= 3  # 2, or 3 if the deadline fired late
    assert held < limit + PUT_DELAY + 4.0, held
    puts = proxy.puts
    await asyncio.sleep(3 * PUT_DELAY)
    assert proxy.puts == puts  # nothing written after the job gave up
    written = [e.icalendar_component["UID"] for e in raw.events()]
    assert 1 <= len(written) < len(blocks)

    # The retry under the default lock: six PUTs in 0.5 s failed on a loaded machine.
    proxy.put_delay, settings.scheduler = 0.0, roomy
    result = await write_blocks(db_session, settings, sched_state.cache, args)  # the retry
    assert result is not None and len(result.unchanged) == len(written)
    written = [e.icalendar_component["UID"] for e in raw.events()]
    assert sorted(written) == sorted(blocks)  # each block once
