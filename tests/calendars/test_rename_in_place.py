"""A rename changes titles only, where the events are (Radicale): a block the user dragged
in their calendar app stays where they put it (and the sync still adopts the move), one
they deleted is not written back; with the server down the title is written by the next
sync; a schedule write queued before the rename writes the new title, not its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from almanac.config import CalDAVCalendarSettings
from almanac.scheduler.pending import TASK, write_blocks
from almanac.scheduler.sync import sync_calendar
from almanac.state import AppState
from tests.calendars.conftest import USER
from tests.calendars.faults import FailingProxy, proxy, radicale
from tests.calendars.test_caldav_retries import calendar_app
from tests.calendars.test_server_moves import delete_on_server, move_on_server, server_times
from tests.conftest import http_client, ok
from tests.live_server import free_port
from tests.scheduler.races import body, chain, plans

__all__ = ["proxy", "radicale"]


def summaries(raw_calendar: Any) -> dict[str, str]:
    out = {}
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        out[str(vevent.get("X-ALMANAC-ID"))] = str(vevent.get("SUMMARY"))
    return out


async def task_id(api: Any, plan_id: int, key: str) -> int:
    tasks = await ok(await api.get("/api/v1/planner/tasks", params={"plan_id": plan_id}))
    return int(next(t["id"] for t in tasks["items"] if t["key"] == key))


async def test_a_rename_keeps_a_block_the_user_moved_where_they_put_it(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(2, 1.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        t0 = f"plan{plan_id}-t0-0"
        move_on_server(raw_calendar, t0, timedelta(hours=3))  # before any sync saw it
        moved = server_times(raw_calendar)
        tid = await task_id(api, plan_id, "t0")
        out = await ok(await api.patch(f"/api/v1/planner/tasks/{tid}", json={"title": "New"}))
        assert out["calendar"]["updated"] == [t0], out["calendar"]
    assert server_times(raw_calendar) == moved
    titles = summaries(raw_calendar)
    assert titles[t0] == "New" and titles[f"plan{plan_id}-t1-0"] != "New"
    report = await sync_calendar(state)
    assert report.adopted.get(plan_id), report  # the move is still the user's to adopt
    assert server_times(raw_calendar)[t0] == moved[t0]


async def test_a_rename_does_not_bring_back_a_block_the_user_deleted(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(1, 3.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        before = sorted(server_times(raw_calendar))
        assert len(before) > 1, before
        gone = before[-1]
        delete_on_server(raw_calendar, gone)
        tid = await task_id(api, plan_id, "t0")
        out = await ok(await api.patch(f"/api/v1/planner/tasks/{tid}", json={"title": "New"}))
        assert out["calendar"]["created"] == [], out["calendar"]
    titles = summaries(raw_calendar)
    assert gone not in titles and set(titles.values()) == {"New"}, titles


async def test_with_the_server_down_the_sync_writes_the_new_title(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    state, app = calendar_app(committed_state, caldav_settings)
    gone = caldav_settings.model_copy(
        update={"caldav_url": f"http://127.0.0.1:{free_port()}/gone/"}
    )
    _, down = calendar_app(committed_state, gone)
    (plan_id,) = await plans(state, chain(1, 3.0))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        tid = await task_id(api, plan_id, "t0")
    where = server_times(raw_calendar)
    async with http_client(down) as api:
        out = await ok(await api.patch(f"/api/v1/planner/tasks/{tid}", json={"title": "New"}))
    assert out["task"]["title"] == "New"
    assert "calendar sync writes it" in out["calendar"]["detail"], out["calendar"]
    assert "New" not in summaries(raw_calendar).values()
    report = await sync_calendar(state)  # the server answers again
    assert report.retitled == {plan_id: len(where)}, report
    assert set(summaries(raw_calendar).values()) == {"New"}
    assert server_times(raw_calendar) == where  # titles only: nothing moved
    again = await sync_calendar(state)
    assert plan_id not in again.retitled, again  # settled: nothing more to write


async def test_a_write_queued_before_a_rename_writes_the_new_title(
    committed_state: AppState, proxy: FailingProxy, radicale: Any
) -> None:
    raw = radicale.principal().make_calendar(name="rename-queued")
    url = proxy.url.rstrip("/") + httpx.URL(str(raw.url)).path
    settings = CalDAVCalendarSettings(
        caldav_url=url,
        caldav_username=USER,
        caldav_password="secret",  # type: ignore[arg-type]
    )
    state, app = calendar_app(committed_state, settings)
    (plan_id,) = await plans(state, chain(1, 2.0))
    proxy.fail_put, proxy.status = 1, 503  # the server reads, but fails writes
    async with http_client(app) as api:
        out = await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        assert out["calendar"]["pending"] is True, out["calendar"]
        proxy.fail_put = 0  # back before the job's retry
        tid = await task_id(api, plan_id, "t0")
        await ok(await api.patch(f"/api/v1/planner/tasks/{tid}", json={"title": "Renamed"}))
    async with state.sessionmaker() as session:
        args = await session.scalar(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id DESC"),
            {"t": TASK},
        )
        assert args is not None
        assert await write_blocks(session, state.settings, state.cache, args) is not None
        await session.commit()
    assert set(summaries(raw).values()) == {"Renamed"}


def _edit_on_server(raw_calendar: Any, almanac_id: str, edit: Any) -> None:
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        if str(vevent.get("X-ALMANAC-ID")) == almanac_id:
            edit(vevent)
            obj.save()
            return
    raise AssertionError(f"{almanac_id} is not on the server")


def _repeat(vevent: Any) -> None:
    vevent.add("rrule", {"freq": "daily", "count": 3})


def _all_day(vevent: Any) -> None:
    day = vevent.decoded("DTSTART").date()
    for name in ("DTSTART", "DTEND"):
        vevent.pop(name)
    vevent.add("dtstart", day)
    vevent.add("dtend", day + timedelta(days=1))


async def test_a_block_made_repeating_or_all_day_is_left_to_the_next_solve(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    """A repeated block reads as three events with one id: the rename wrote all three, a
    duplicate the calendar diff refuses (a 500, and every sync after it failed); an all-day
    one was rewritten as a timed 24-hour event."""
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(3, 1.0))
    t0, t1, t2 = (f"plan{plan_id}-t{i}-0" for i in range(3))
    async with http_client(app) as api:
        await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        _edit_on_server(raw_calendar, t0, _repeat)
        _edit_on_server(raw_calendar, t1, _all_day)
        for key in ("t0", "t1", "t2"):
            tid = await task_id(api, plan_id, key)
            r = await api.patch(f"/api/v1/planner/tasks/{tid}", json={"title": f"New {key}"})
            assert r.status_code == 200, r.text
    titles = summaries(raw_calendar)
    assert titles[t2] == "New t2" and titles[t0] != "New t0" and titles[t1] != "New t1"
    report = await sync_calendar(state)
    assert not report.failed and plan_id not in report.retitled, report
    vevent = next(
        o.icalendar_instance.walk("VEVENT")[0]
        for o in raw_calendar.events()
        if str(o.icalendar_instance.walk("VEVENT")[0].get("X-ALMANAC-ID")) == t1
    )
    assert not hasattr(vevent.decoded("DTSTART"), "hour"), "the all-day block got times"
