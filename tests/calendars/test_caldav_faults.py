"""A CalDAV server failing mid-write (5xx, 412): a clear error, and a retry of the same
apply converges on exactly the desired events, none twice (real Radicale behind a proxy
that fails one PUT)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars import caldav as caldav_module
from almanac.calendars.base import CalendarUnavailable, event_uid
from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalDAVCalendarSettings
from almanac.scheduler.pending import TASK, write_blocks
from almanac.state import AppState
from tests.calendars.conftest import USER
from tests.calendars.faults import FailingProxy, proxy, radicale
from tests.calendars.shapes import WEEK, specs
from tests.conftest import app_in_transaction, http_client
from tests.scheduler.conftest import make_plan, next_monday, run_count, sched_state

__all__ = ["proxy", "radicale", "sched_state"]  # fixtures shared with other test modules


@pytest.mark.parametrize("status", [500, 503, 412])
async def test_a_put_failing_mid_apply_then_a_retry_writes_each_event_once(
    proxy: FailingProxy, radicale: Any, status: int
) -> None:
    raw = radicale.principal().make_calendar(name=f"faults-{status}")
    path = httpx.URL(str(raw.url)).path
    cal = CalDAVCalendar(
        url=proxy.url, calendar=proxy.url.rstrip("/") + path, username=USER, password="secret"
    )
    try:
        proxy.fail_put, proxy.status = 2, status  # the first event is written, the second fails
        with pytest.raises(CalendarUnavailable, match=str(status)):
            await cal.apply(specs(), *WEEK)
        assert len(raw.events()) == 1
        proxy.fail_put = 0  # the server is back
        result = await cal.apply(specs(), *WEEK)  # the retry
        assert (len(result.created), len(result.unchanged)) == (2, 1)
        events = await cal.events(*WEEK)
        assert sorted(e.almanac_id or "" for e in events) == ["t1", "t2", "t3"]
        assert len(raw.events()) == 3
    finally:
        await cal.close()


async def test_a_schedule_made_while_caldav_fails_is_saved_and_written_by_its_job(
    sched_state: AppState, db_session: AsyncSession, proxy: FailingProxy, radicale: Any
) -> None:
    """The calendar answers reads but fails every write: the schedule is still accepted
    (runs and blocks in Postgres, `calendar.pending`), and its queued job writes the
    blocks once CalDAV is back, once however often it runs; a newer run supersedes it."""
    raw = radicale.principal().make_calendar(name="pending-writes")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    sched_state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    plan_id = (await make_plan(db_session, [{"key": "a"}, {"key": "b"}])).id
    await db_session.commit()  # a savepoint
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "dry_run": False}
    proxy.fail_put, proxy.status = 1, 503
    async with http_client(app_in_transaction(sched_state, db_session)) as client:
        r = await client.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["applied"] is True and out["calendar"]["pending"] is True
        assert "503" in out["calendar"]["detail"] and "schedule is saved" in out["warnings"][-1]
        assert out["plan_status"] == "scheduled" and await run_count(db_session, plan_id) == 1
        assert raw.events() == []
        # The answer was lost and the client sends the same write again, CalDAV still
        # failing: the same answer (saved, pending), not a 503 that says to retry.
        again = await client.post("/api/v1/scheduler/schedule", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["calendar"]["pending"] is True, again.text
        assert await run_count(db_session, plan_id) == 1
        jobs = await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": TASK},
        )
        args = jobs.scalars().first()

        proxy.fail_put = 0  # CalDAV is back
        for _ in range(2):  # the job, and a second delivery of it
            await write_blocks(db_session, sched_state.settings, sched_state.cache, args)
        written = {e.icalendar_component["UID"] for e in raw.events()}
        assert len(written) == len(out["blocks"]) > 0
        assert written == {event_uid(b["almanac_id"]) for b in out["blocks"]}

        later = {**body, "start_date": next_monday(2).isoformat()}
        r = await client.post("/api/v1/scheduler/schedule", json=later)
        assert r.status_code == 200 and r.json()["calendar"]["pending"] is False, r.text
        assert await run_count(db_session, plan_id) == 2
        # Run again after a newer run, the job writes the plan as that run has it in its
        # span: nothing of the old run comes back.
        done = await write_blocks(db_session, sched_state.settings, sched_state.cache, args)
        assert done is not None and not (done.created or done.updated or done.deleted), done
        starts = {e.icalendar_component["DTSTART"].dt for e in raw.events()}
        assert starts == {datetime.fromisoformat(b["start"]) for b in r.json()["blocks"]}


async def test_a_pending_write_does_not_bring_back_a_forgotten_clients_blocks(
    sched_state: AppState, db_session: AsyncSession, proxy: FailingProxy, radicale: Any
) -> None:
    """The schedule's write is queued while CalDAV fails; the client is then forgotten (its
    plan, runs and blocks deleted in Postgres). When CalDAV is back, the queued write must
    not put the forgotten client's blocks into the calendar."""
    raw = radicale.principal().make_calendar(name="pending-forgotten")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    sched_state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    plan = await make_plan(db_session, [{"key": "a"}, {"key": "b"}])
    plan.client_id = 903
    await db_session.commit()  # a savepoint
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    proxy.fail_put, proxy.status = 1, 503
    async with http_client(app_in_transaction(sched_state, db_session)) as client:
        r = await client.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200 and r.json()["calendar"]["pending"] is True, r.text
        jobs = await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t"), {"t": TASK}
        )
        args = jobs.scalar_one()
        r = await client.delete("/api/v1/memory/subjects/client/903")
        assert r.status_code == 200, r.text
        assert await run_count(db_session, plan.id) == 0

        proxy.fail_put = 0  # CalDAV is back; the queued write runs
        await write_blocks(db_session, sched_state.settings, sched_state.cache, args)
        assert raw.events() == []


async def test_a_pending_write_of_two_plans_survives_a_newer_run_of_one(
    sched_state: AppState, db_session: AsyncSession, proxy: FailingProxy, radicale: Any
) -> None:
    """P's schedule moves Q's block off a meeting while CalDAV fails: one queued write of
    both plans. Once CalDAV is back, a task of Q is closed (a newer run of Q, written at
    once). The queued write must still put P's blocks into the calendar."""
    from sqlalchemy import select

    from almanac.models import Task
    from tests.calendars.test_caldav import user_event

    raw = radicale.principal().make_calendar(name="pending-two-plans")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    sched_state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    q = await make_plan(db_session, [{"key": "a"}, {"key": "b"}], title="Q")
    p = await make_plan(db_session, [{"key": "c"}, {"key": "d"}], title="P")
    await db_session.commit()  # a savepoint
    monday = next_monday().isoformat()
    async with http_client(app_in_transaction(sched_state, db_session)) as client:
        r = await client.post(
            "/api/v1/scheduler/schedule",
            json={"plan_id": q.id, "start_date": monday, "dry_run": False},
        )
        assert r.status_code == 200 and r.json()["calendar"]["pending"] is False, r.text
        first = min(r.json()["blocks"], key=lambda b: b["start"])
        start = datetime.fromisoformat(first["start"]).astimezone(UTC)
        stamp = "%Y%m%dT%H%M%SZ"
        end = start + timedelta(hours=1)
        user_event(raw, "meeting-on-q", f":{start:{stamp}}", f":{end:{stamp}}")

        proxy.fail_put, proxy.status = proxy.puts + 1, 503
        r = await client.post(
            "/api/v1/scheduler/schedule",
            json={"plan_id": p.id, "start_date": monday, "dry_run": False},
        )
        assert r.status_code == 200 and r.json()["calendar"]["pending"] is True, r.text
        p_blocks = {b["almanac_id"] for b in r.json()["blocks"]}
        jobs = await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t"), {"t": TASK}
        )
        args = jobs.scalar_one()
        assert set(args["runs"]) == {str(p.id), str(q.id)}, args["runs"]

        proxy.fail_put = 0  # CalDAV is back; Q's task b is closed before the job runs
        task_b = await db_session.scalar(
            select(Task.id).where(Task.plan_id == q.id, Task.plan_task_key == "b")
        )
        r = await client.patch(f"/api/v1/planner/tasks/{task_b}", json={"status": "done"})
        assert r.status_code == 200, r.text
        assert await run_count(db_session, q.id) == 3

        await write_blocks(db_session, sched_state.settings, sched_state.cache, args)
        written = {str(e.icalendar_component.get("X-ALMANAC-ID")) for e in raw.events()}
        assert p_blocks and p_blocks <= written, (p_blocks, written)


async def test_a_block_moved_while_caldav_fails_is_saved_and_written_once_by_its_job(
    sched_state: AppState, db_session: AsyncSession, proxy: FailingProxy, radicale: Any
) -> None:
    """CalDAV answers reads but fails every write: moving a block by hand is still accepted
    (the pin and the run committed, `calendar.pending`); the same move sent again records
    nothing more; the queued write moves the event once, its SEQUENCE bumped once."""
    from tests.scheduler.conftest import at

    raw = radicale.principal().make_calendar(name="pending-move")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    sched_state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    plan_id = (await make_plan(db_session, [{"key": "a"}, {"key": "b"}])).id
    await db_session.commit()  # a savepoint
    monday = next_monday()
    start, end = at(monday + timedelta(days=4), 14), at(monday + timedelta(days=4), 15)

    def event(aid: str) -> Any:
        found = [
            e.icalendar_component
            for e in raw.events()
            if str(e.icalendar_component.get("X-ALMANAC-ID")) == aid
        ]
        assert len(found) == 1, found
        return found[0]

    async with http_client(app_in_transaction(sched_state, db_session)) as client:
        body = {"plan_id": plan_id, "start_date": monday.isoformat(), "dry_run": False}
        r = await client.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200 and r.json()["calendar"]["pending"] is False, r.text
        aid = next(b["almanac_id"] for b in r.json()["blocks"] if b["task_key"] == "b")
        other = next(b["almanac_id"] for b in r.json()["blocks"] if b["task_key"] == "a")
        before = event(aid)
        assert int(before.get("SEQUENCE", 0)) == 0 and before.decoded("DTSTART") != start

        proxy.fail_put, proxy.status = proxy.puts + 1, 503
        move = {"start": start.isoformat(), "end": end.isoformat()}
        r = await client.put(f"/api/v1/scheduler/calendar/{aid}", json=move)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["calendar"]["pending"] is True and "503" in out["calendar"]["detail"]
        assert "schedule is saved" in out["warnings"][-1]
        assert datetime.fromisoformat(out["block"]["start"]) == start
        runs = await run_count(db_session, plan_id)
        stored = await db_session.scalar(
            text(
                "SELECT schedule_blocks FROM scheduler_runs WHERE plan_id = :p "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"p": plan_id},
        )
        mine = [b for b in stored if b["task_key"] == "b"]
        assert len(mine) == 1 and datetime.fromisoformat(mine[0]["start"]) == start, stored
        assert event(aid).decoded("DTSTART") == before.decoded("DTSTART")  # not written yet

        # The answer was lost; the client sends the same move again, CalDAV still failing.
        again = await client.put(f"/api/v1/scheduler/calendar/{aid}", json=move)
        assert again.status_code == 200, again.text
        assert again.json()["calendar"]["pending"] is True, again.text
        assert again.json()["run_id"] == out["run_id"] and again.json()["block"] == out["block"]
        assert await run_count(db_session, plan_id) == runs

        proxy.fail_put = 0  # CalDAV is back: every queued write runs, one delivered twice
        jobs = await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": TASK},
        )
        queued = list(jobs.scalars())
        assert queued
        for args in [*queued, queued[0]]:
            await write_blocks(db_session, sched_state.settings, sched_state.cache, args)
        after = event(aid)
        assert after.decoded("DTSTART") == start and after.decoded("DTEND") == end
        assert int(after.get("SEQUENCE", 0)) == 1
        assert int(event(other).get("SEQUENCE", 0)) == 0  # the block not moved is untouched


async def test_a_server_locked_for_a_moment_is_waited_for_and_one_locked_for_good_is_not(
    proxy: FailingProxy, radicale: Any
) -> None:
    """423 Locked (Xandikos while another client writes) passes: the apply waits and
    writes every event once; a lock that does not pass is CalendarUnavailable naming 423."""
    raw = radicale.principal().make_calendar(name="locked")
    path = httpx.URL(str(raw.url)).path
    cal = CalDAVCalendar(
        url=proxy.url, calendar=proxy.url.rstrip("/") + path, username=USER, password="secret"
    )
    try:
        proxy.fail_put, proxy.status, proxy.fail_times = 2, 423, 2
        result = await cal.apply(specs(), *WEEK)
        assert len(result.created) == 2  # the first attempt wrote one before the lock
        assert sorted(str(e.icalendar_component["UID"]) for e in raw.events()) == sorted(
            event_uid(s.almanac_id) for s in specs()
        )
        proxy.puts, proxy.fail_put, proxy.fail_times = 0, 1, 0  # locked from now on
        moved = [replace(s, title=s.title + " (moved)") for s in specs()]
        with pytest.raises(CalendarUnavailable, match="423"):
            await cal.apply(moved, *WEEK)
        attempts = 1 + len(caldav_module.LOCKED_WAITS)  # bounded, then it gives up
        assert attempts <= proxy.puts <= 2 * attempts  # caldav itself tries a save twice
    finally:
        await cal.close()
