"""A block the user moves in their calendar app (straight on the CalDAV server, in Google
Calendar) stays where they put it: the next sync pins it there, and later solves keep it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from almanac.app import create_app
from almanac.config import CalDAVCalendarSettings, GoogleCalendarSettings
from almanac.deps import get_state
from almanac.scheduler.pending import TASK
from almanac.scheduler.sync import sync_calendar
from almanac.state import AppState
from tests.calendars.conftest import USER
from tests.calendars.faults import FailingProxy, proxy, radicale
from tests.calendars.test_caldav_retries import calendar_app
from tests.calendars.test_lock_bounds import google_state
from tests.conftest import http_client, ok
from tests.doubles.google_calendar import FakeGoogle
from tests.scheduler.races import body, chain, current_blocks, plans, runs_of

__all__ = ["proxy", "radicale"]  # fixtures


def server_times(raw_calendar: Any) -> dict[str, tuple[Any, Any]]:
    out = {}
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        out[str(vevent.get("X-ALMANAC-ID"))] = (vevent.decoded("DTSTART"), vevent.decoded("DTEND"))
    return out


def sequences(raw_calendar: Any) -> dict[str, int]:
    out = {}
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        out[str(vevent.get("X-ALMANAC-ID"))] = int(vevent.get("SEQUENCE", 0))
    return out


def move_on_server(raw_calendar: Any, almanac_id: str, by: timedelta) -> None:
    """What a calendar app does when the user drags the event: new times, same UID."""
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        if str(vevent.get("X-ALMANAC-ID")) != almanac_id:
            continue
        start, end = vevent.decoded("DTSTART") + by, vevent.decoded("DTEND") + by
        for name in ("DTSTART", "DTEND"):
            vevent.pop(name)
        vevent.add("dtstart", start)
        vevent.add("dtend", end)
        obj.save()
        return
    raise AssertionError(f"{almanac_id} is not on the server")


async def schedule_then_delete(
    api: Any, state: AppState, raw_calendar: Any, plan_id: int, deleted: str
) -> dict[str, tuple[Any, Any]]:
    """Schedules the plan, deletes one of its blocks on the server as a calendar app does,
    and syncs, which must adopt the deletion. The server's events before the delete."""
    await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
    before = server_times(raw_calendar)
    assert deleted in before, before
    delete_on_server(raw_calendar, deleted)
    report = await sync_calendar(state)
    assert report.failed == {} and report.removed == {plan_id: 1}, report
    return before


async def test_a_block_moved_on_the_server_stays_where_the_user_put_it(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(2, 1.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        before = server_times(raw_calendar)
        assert len(before) == 2
        for aid in before:  # the user drags both blocks three hours later
            move_on_server(raw_calendar, aid, timedelta(hours=3))
        moved, seqs = server_times(raw_calendar), sequences(raw_calendar)

        report = await sync_calendar(state)
        assert report.failed == {} and report.adopted == {plan_id: True}
        # Adopting one move did not put the other back on the server meanwhile.
        assert server_times(raw_calendar) == moved
        assert sequences(raw_calendar) == seqs
        # A later replan keeps it there (it used to put it back where the solver had it).
        replan = {"plan_id": plan_id, "dry_run": False}
        await ok(await api.post("/api/v1/scheduler/replan", json=replan))
        assert server_times(raw_calendar) == moved
        # The plan's current run has them where the user put them, pinned.
        rows = await current_blocks(state, plan_id)
        assert {
            f"plan{plan_id}-{r['task_key']}-{r['chunk']}": datetime.fromisoformat(r["start"])
            for r in rows
            if r["fixed"]
        } == {aid: start for aid, (start, _) in moved.items()}

    # Once adopted, a sync finds nothing to do: no run recorded, nothing written.
    count = len(await runs_of(state, plan_id))
    again = await sync_calendar(state)
    assert again.adopted == {} and again.replanned == {} and again.warned == {}
    assert len(await runs_of(state, plan_id)) == count


async def api_move_left_pending(
    committed_state: AppState, proxy: FailingProxy, radicale: Any, name: str
) -> tuple[AppState, int, str, datetime]:
    """A plan scheduled into Radicale behind the failing proxy, then its last block moved 2 h
    later through the API while CalDAV fails the write: the move is queued, the server
    still shows the old time. The state, the plan, the block's id and its new start."""
    raw = radicale.principal().make_calendar(name=name)
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    cal = CalDAVCalendarSettings(
        caldav_url=url, caldav_username=USER, caldav_password=SecretStr("secret")
    )
    state, app = calendar_app(committed_state, cal)
    (plan_id,) = await plans(state, chain(2, 1.0))
    async with http_client(app) as api:
        out = await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        block = max(out["blocks"], key=lambda b: b["start"])
        aid = block["almanac_id"]
        start = datetime.fromisoformat(block["start"]) + timedelta(hours=2)
        move = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
        proxy.fail_put, proxy.status = proxy.puts + 1, 503
        moved = await ok(await api.put(f"/api/v1/scheduler/calendar/{aid}", json=move))
        assert moved["calendar"]["pending"] is True
    return state, plan_id, aid, start


async def assert_not_adopted(state: AppState, plan_id: int, aid: str, start: datetime) -> None:
    """A sync pins nothing, and the block stays where the API moved it."""
    report = await sync_calendar(state)
    assert report.failed == {} and report.adopted == {}
    rows = await current_blocks(state, plan_id)
    mine = next(r for r in rows if f"plan{plan_id}-{r['task_key']}-{r['chunk']}" == aid)
    assert datetime.fromisoformat(mine["start"]) == start  # the API's move holds


async def test_a_move_still_queued_for_the_server_is_not_read_as_the_users(
    committed_state: AppState, proxy: FailingProxy, radicale: Any
) -> None:
    """CalDAV fails the write of a block moved through the API (queued); it comes back and
    the sync runs before the queued job: the server still shows the old time, which is the
    write not landed yet, not a move of the user's to pin."""
    state, plan_id, aid, start = await api_move_left_pending(
        committed_state, proxy, radicale, "queued-move"
    )
    proxy.fail_put = 0  # the server is back; its queued write has not run yet
    await assert_not_adopted(state, plan_id, aid, start)


async def test_a_move_whose_write_failed_for_good_is_not_read_as_the_users(
    committed_state: AppState, proxy: FailingProxy, radicale: Any
) -> None:
    """The queued write of a block moved through the API used up its retries (the server was
    down for a day): the server still shows the old time, which is Almanac's write that never
    landed, not a move of the user's; pinning it there would undo the API's move."""
    state, plan_id, aid, start = await api_move_left_pending(
        committed_state, proxy, radicale, "failed-move"
    )
    proxy.fail_put = 0
    async with state.sessionmaker() as session:  # its retries are spent: failed for good
        done = await session.execute(
            text("UPDATE procrastinate_jobs SET status = 'failed' WHERE task_name = :t"),
            {"t": TASK},
        )
        assert done.rowcount == 1  # type: ignore[attr-defined]
        await session.commit()
    await assert_not_adopted(state, plan_id, aid, start)


async def test_a_block_moved_in_google_calendar_stays_where_the_user_put_it(
    committed_state: AppState, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> None:
    state = await google_state(committed_state, google, cal_settings)
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    (plan_id,) = await plans(state, chain(2, 1.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        events = google.live_events(cal_settings.google_calendar_id)
        assert len(events) == 2
        last = max(events, key=lambda e: e["start"]["dateTime"])
        with google._lock:  # the user drags it two hours later in Google Calendar
            stored = google.calendars[cal_settings.google_calendar_id][last["id"]]
            for edge in ("start", "end"):
                when = datetime.fromisoformat(stored[edge]["dateTime"]) + timedelta(hours=2)
                stored[edge]["dateTime"] = when.isoformat()
            google._touch(stored)
        moved = datetime.fromisoformat(stored["start"]["dateTime"])

        report = await sync_calendar(state)
        assert report.failed == {} and report.adopted == {plan_id: True}
        replan = {"plan_id": plan_id, "dry_run": False}
        await ok(await api.post("/api/v1/scheduler/replan", json=replan))
    now = {e["id"]: e for e in google.live_events(cal_settings.google_calendar_id)}
    assert datetime.fromisoformat(now[last["id"]]["start"]["dateTime"]) == moved
    rows = await current_blocks(state, plan_id)
    assert [datetime.fromisoformat(r["start"]) for r in rows if r["fixed"]] == [moved]


def delete_on_server(raw_calendar: Any, almanac_id: str) -> None:
    """What a calendar app does when the user deletes the event."""
    for obj in raw_calendar.events():
        if str(obj.icalendar_instance.walk("VEVENT")[0].get("X-ALMANAC-ID")) == almanac_id:
            obj.delete()
            return
    raise AssertionError(f"{almanac_id} is not on the server")


async def test_a_block_deleted_on_the_server_is_not_written_back(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """The next replan wrote a block the user had deleted in their calendar app back onto
    the calendar. Their deletion stands: the task's hours there are not planned again (a
    warning says so) until its estimate is set anew."""
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(2, 1.0))
    deleted = f"plan{plan_id}-t1-0"
    async with http_client(app) as api:
        before = await schedule_then_delete(api, state, raw_calendar, plan_id, deleted)
        replan = {"plan_id": plan_id, "dry_run": False}
        out = await ok(await api.post("/api/v1/scheduler/replan", json=replan))
        assert set(server_times(raw_calendar)) == set(before) - {deleted}
        assert any("removed from the calendar by you" in w for w in out["warnings"]), out
        assert {r["task_key"] for r in await current_blocks(state, plan_id)} == {"t0"}
        # A sync after that finds nothing more to adopt.
        again = await sync_calendar(state)
        assert again.removed == {} and again.failed == {}

        # Set anew, its estimate is planned again.
        tasks = await ok(await api.get("/api/v1/planner/tasks", params={"plan_id": plan_id}))
        t1 = next(t for t in tasks["items"] if t["key"] == "t1")
        assert t1["remaining_hours"] == 0
        assert t1["removed_hours"] == 1 and t1["logged_hours"] == 0  # why none is left
        patched = await ok(
            await api.patch(f"/api/v1/planner/tasks/{t1['id']}", json={"estimate_hours": 1})
        )
        assert patched["task"]["removed_hours"] == 0, patched
        assert patched["task"]["remaining_hours"] == 1, patched
        await ok(await api.post("/api/v1/scheduler/replan", json=replan))
        assert {r["task_key"] for r in await current_blocks(state, plan_id)} == {"t0", "t1"}


async def test_a_block_moved_past_the_plans_horizon_is_not_read_as_deleted(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """A block the user moved (here through the API) to a day past the plan's horizon is
    still on the calendar, but the sync read only the horizon's days: it took the block
    for one the user had deleted and took its hours off the task."""
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(2, 1.0))
    async with http_client(app) as api:
        out = await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        block = max(out["blocks"], key=lambda b: b["start"])
        aid = block["almanac_id"]
        start = datetime.fromisoformat(block["start"]) + timedelta(days=14)
        move = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
        await ok(await api.put(f"/api/v1/scheduler/calendar/{aid}", json={**move, "force": True}))
        assert aid in server_times(raw_calendar)

        report = await sync_calendar(state)
        assert report.failed == {} and report.removed == {}, report
        tasks = await ok(await api.get("/api/v1/planner/tasks", params={"plan_id": plan_id}))
        assert all(t["remaining_hours"] == 1 for t in tasks["items"]), tasks
        assert aid in server_times(raw_calendar)


async def test_a_deleted_block_of_a_task_without_an_estimate_is_not_written_back(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """A task with no estimate is planned for the hour the scheduler assumes: its removed
    hours were taken off no estimate, so the replan wrote the deleted block back while the
    warnings said it was not planned again."""
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, [{"key": "t0"}, {"key": "t1", "estimate_hours": None}])
    deleted = f"plan{plan_id}-t1-0"
    async with http_client(app) as api:
        before = await schedule_then_delete(api, state, raw_calendar, plan_id, deleted)
        assert set(server_times(raw_calendar)) == set(before) - {deleted}
        out = await ok(
            await api.post("/api/v1/scheduler/replan", json={"plan_id": plan_id, "dry_run": False})
        )
        assert set(server_times(raw_calendar)) == set(before) - {deleted}
        assert {r["task_key"] for r in await current_blocks(state, plan_id)} == {"t0"}
        assert not any("estimate of 0" in w for w in out["warnings"]), out["warnings"]


async def test_a_deleted_block_the_user_had_moved_is_not_written_back_at_its_pin(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """A block the user moved in their calendar app is pinned there; deleted later, its
    hours came off the task but its pin stayed: the replan wrote it back at the pin and
    dropped the task's other block instead."""
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(1, 3.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        before = server_times(raw_calendar)
        assert len(before) == 2, before
        # The shorter one: a pin that fits in the hours left is kept by the solver.
        short = min(before, key=lambda aid: before[aid][1] - before[aid][0])
        move_on_server(raw_calendar, short, timedelta(days=1))
        report = await sync_calendar(state)
        assert report.failed == {} and report.adopted == {plan_id: True}, report
        pinned = server_times(raw_calendar)
        (moved,) = [aid for aid, t in pinned.items() if t not in before.values()]
        kept = {aid: t for aid, t in pinned.items() if aid != moved}

        delete_on_server(raw_calendar, moved)
        report = await sync_calendar(state)
        assert report.failed == {} and report.removed == {plan_id: 1}, report
        assert list(server_times(raw_calendar).values()) == list(kept.values())
        out = await ok(
            await api.post("/api/v1/scheduler/replan", json={"plan_id": plan_id, "dry_run": False})
        )
        assert list(server_times(raw_calendar).values()) == list(kept.values()), out
