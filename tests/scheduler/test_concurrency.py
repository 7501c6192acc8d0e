"""Several clients writing one calendar at once, over HTTP with real commits.

Every race ends with `check_calendar` (in `races.py`), a check written from the rows alone
(it does not call the solver's validator): no two blocks overlap each other or a meeting, the daily
maximum and the sprint capacity hold, a task's blocks never exceed its estimate, every block
belongs to an open task of its plan, and the calendar holds exactly the blocks of each plan's
current run (no orphans, no lost writes).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from almanac.app import create_app
from almanac.config import SchedulerSettings
from almanac.deps import get_state
from almanac.models import CalendarEntry, Plan, Task
from almanac.scheduler.sync import sync_calendar
from almanac.state import AppState
from tests.conftest import http_client, ok
from tests.live_server import LiveServer

from .conftest import TZ_NAME, at, next_monday
from .races import (
    DAILY_MAX,
    URL,
    body,
    chain,
    check_calendar,
    current_blocks,
    meeting_on,
    plans,
    runs_of,
    schedule,
    together,
)


@pytest.fixture
async def race(committed_state: AppState) -> AsyncIterator[AppState]:
    settings = committed_state.settings.model_copy(
        update={
            "timezone": TZ_NAME,
            "scheduler": SchedulerSettings(time_limit_seconds=1.0, daily_max_hours=DAILY_MAX),
        }
    )
    yield replace(committed_state, settings=settings)


@pytest.fixture
async def api(race: AppState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(state=race)
    app.dependency_overrides[get_state] = lambda: race
    async with http_client(app) as c:
        await c.get(f"{URL}/sprints")  # warm up: the key verified and cached
        yield c


# -- races ---------------------------------------------------------------------------------------


async def test_two_plans_scheduled_at_once_share_one_calendar(
    race: AppState, api: httpx.AsyncClient
) -> None:
    monday = next_monday()
    await ok(
        await api.post(f"{URL}/sprints", json={"week_start": str(monday), "capacity_hrs": 10}), 201
    )
    a, b = await plans(race, chain(4, 2.0), chain(4, 2.0))
    ra, rb = await together(
        lambda: api.post(f"{URL}/schedule", json=body(a)),
        lambda: api.post(f"{URL}/schedule", json=body(b)),
    )
    await ok(ra)
    await ok(rb)
    assert await check_calendar(race, capacity=10) == []


async def test_a_replan_and_a_schedule_of_another_plan_at_once(
    race: AppState, api: httpx.AsyncClient
) -> None:
    a, b = await plans(race, chain(3, 1.5), chain(3, 1.5))
    await schedule(api, a)
    await meeting_on(race, a)
    replanned, scheduled = await together(
        lambda: api.post(f"{URL}/replan", json={"plan_id": a, "dry_run": False}),
        lambda: api.post(f"{URL}/schedule", json=body(b)),
    )
    await ok(replanned)
    await ok(scheduled)
    assert await check_calendar(race) == []


async def test_the_calendar_sync_and_a_schedule_at_once(
    race: AppState, api: httpx.AsyncClient
) -> None:
    a, b = await plans(race, chain(3, 1.5), chain(3, 1.5))
    await schedule(api, a)
    await meeting_on(race, a)
    report, scheduled = await together(
        lambda: sync_calendar(race),
        lambda: api.post(f"{URL}/schedule", json=body(b)),
    )
    await ok(scheduled)
    # Either the sync replans A around the meeting, or B's schedule (which sees the whole
    # calendar) already moved A's hit block and the sync finds nothing left to do.
    assert report.failed == {}
    assert await check_calendar(race) == []


async def test_applying_a_preview_while_another_plan_is_scheduled(
    race: AppState, api: httpx.AsyncClient
) -> None:
    a, b = await plans(race, chain(3, 1.5), chain(3, 1.5))
    preview = await schedule(api, a, dry_run=True)
    applied, scheduled = await together(
        lambda: api.post(
            f"{URL}/schedule", json={"plan_id": a, "run_id": preview["run_id"], "dry_run": False}
        ),
        lambda: api.post(f"{URL}/schedule", json=body(b)),
    )
    await ok(scheduled)
    # Either the preview is written exactly as shown, or it is refused as out of date.
    assert applied.status_code in (200, 409), applied.text
    if applied.status_code == 200:
        shown = {(x["almanac_id"], x["start"]) for x in preview["blocks"]}
        assert {(x["almanac_id"], x["start"]) for x in applied.json()["blocks"]} == shown
    else:
        assert applied.json()["errors"][0]["field"] == "run_id"
    assert await check_calendar(race) == []


async def test_one_preview_applied_twice_at_once_is_written_once(
    race: AppState, api: httpx.AsyncClient
) -> None:
    [a] = await plans(race, chain(3, 1.5))
    preview = await schedule(api, a, dry_run=True)
    apply = {"plan_id": a, "run_id": preview["run_id"], "dry_run": False}
    first, second = await together(
        lambda: api.post(f"{URL}/schedule", json=apply),
        lambda: api.post(f"{URL}/schedule", json=apply),
    )
    one, two = await ok(first), await ok(second)
    assert one["run_id"] == two["run_id"] and one["blocks"] == two["blocks"]
    assert [s for _, s in await runs_of(race, a)] == ["applied", "scheduled"]
    assert await check_calendar(race) == []
    assert len(await current_blocks(race, a)) == len(preview["blocks"])


async def test_a_retried_schedule_writes_nothing_new(
    race: AppState, api: httpx.AsyncClient
) -> None:
    """The same write sent again (a client timed out and retried), at once and then after."""
    [a] = await plans(race, chain(3, 1.5))
    first, second = await together(
        lambda: api.post(f"{URL}/schedule", json=body(a)),
        lambda: api.post(f"{URL}/schedule", json=body(a)),
    )
    await ok(first)
    await ok(second)
    assert await check_calendar(race) == []
    async with race.sessionmaker() as session:
        before = {
            e.uid: (e.start_at, e.sequence) for e in await session.scalars(select(CalendarEntry))
        }
    runs = await runs_of(race, a)
    again = await schedule(api, a)
    assert "nothing changed: no new run was recorded" in again["warnings"]
    assert await runs_of(race, a) == runs
    async with race.sessionmaker() as session:
        after = {
            e.uid: (e.start_at, e.sequence) for e in await session.scalars(select(CalendarEntry))
        }
    assert after == before  # no duplicate event, no SEQUENCE bump without a move


async def test_a_manual_move_while_another_plan_is_replanned(
    race: AppState, api: httpx.AsyncClient
) -> None:
    a, b = await plans(race, chain(2, 1.0), chain(3, 1.5))
    await schedule(api, a)
    await schedule(api, b)
    await meeting_on(race, b)
    last = max(await current_blocks(race, a), key=lambda x: x["start"])
    friday = next_monday() + timedelta(days=4)
    target = {"start": at(friday, 15).isoformat(), "end": at(friday, 16).isoformat()}
    aid = f"plan{a}-{last['task_key']}-{last['chunk']}"
    moved, replanned = await together(
        lambda: api.put(f"{URL}/calendar/{aid}", json=target),
        lambda: api.post(f"{URL}/replan", json={"plan_id": b, "dry_run": False}),
    )
    await ok(moved)
    await ok(replanned)
    mine = [x for x in await current_blocks(race, a) if x["task_key"] == last["task_key"]]
    assert [datetime.fromisoformat(x["start"]) for x in mine] == [at(friday, 15)]
    assert mine[0]["fixed"]
    assert await check_calendar(race) == []


async def test_a_task_marked_done_while_another_plan_is_scheduled(
    race: AppState, api: httpx.AsyncClient
) -> None:
    a, b = await plans(race, chain(3, 1.0), chain(3, 1.5))
    await schedule(api, a)
    async with race.sessionmaker() as session:
        done = await session.scalar(
            select(Task.id).where(Task.plan_id == a, Task.plan_task_key == "t2")
        )
    patched, scheduled = await together(
        lambda: api.patch(f"/api/v1/planner/tasks/{done}", json={"status": "done"}),
        lambda: api.post(f"{URL}/schedule", json=body(b)),
    )
    await ok(patched)
    await ok(scheduled)
    assert not [x for x in await current_blocks(race, a) if x["task_key"] == "t2"]
    assert await check_calendar(race) == []


async def test_plans_scheduled_at_once_through_a_real_server(
    committed_state: AppState, live_server: LiveServer
) -> None:
    """Three clients, each on its own connection to `almanac serve`, at the same moment."""
    ids = await plans(committed_state, chain(3, 1.5), chain(3, 1.5), chain(3, 1.5))
    gate = threading.Barrier(len(ids))

    def send(plan_id: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, headers=live_server.headers, timeout=60) as c:
            gate.wait(30)
            return c.post(f"{URL}/schedule", json=body(plan_id))

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(len(ids)) as pool:  # a thread each, whatever the default pool
        responses = await asyncio.gather(*(loop.run_in_executor(pool, send, i) for i in ids))
    for r in responses:
        assert r.status_code == 200, r.text
        assert r.json()["applied"], r.text
    assert await check_calendar(committed_state, daily_max=None) == []
    assert all([await current_blocks(committed_state, i) for i in ids])


async def test_a_manual_move_sent_twice_moves_once(race: AppState, api: httpx.AsyncClient) -> None:
    """The move's answer was lost and the client sends it again: one event, one new SEQUENCE."""
    [a] = await plans(race, chain(2, 1.0))
    await schedule(api, a)
    last = max(await current_blocks(race, a), key=lambda x: x["start"])
    aid = f"plan{a}-{last['task_key']}-{last['chunk']}"

    async def event() -> list[tuple[datetime, int]]:
        async with race.sessionmaker() as session:
            rows = await session.scalars(
                select(CalendarEntry).where(CalendarEntry.almanac_id == aid)
            )
            return [(e.start_at, e.sequence) for e in rows]

    [(_, sequence)] = await event()
    friday = next_monday() + timedelta(days=4)
    target = {"start": at(friday, 15).isoformat(), "end": at(friday, 16).isoformat()}
    first = await ok(await api.put(f"{URL}/calendar/{aid}", json=target))
    again = await ok(await api.put(f"{URL}/calendar/{aid}", json=target))
    assert first["block"] == again["block"] and first["pinned"] == again["pinned"]
    assert await event() == [(at(friday, 15), sequence + 1)]
    assert await check_calendar(race) == []


async def test_forgetting_a_client_while_another_plan_is_scheduled(
    race: AppState, api: httpx.AsyncClient
) -> None:
    """The forgotten client's blocks must not come back from a schedule that read them."""
    forgotten, other = await plans(race, chain(3, 1.5), chain(3, 1.5))
    async with race.sessionmaker() as session:
        plan = await session.get(Plan, forgotten)
        assert plan is not None
        plan.client_id = 901
        await session.commit()
    await schedule(api, forgotten)
    await schedule(api, other)
    await meeting_on(race, other)  # so the next schedule of `other` rewrites the calendar
    gone, scheduled = await together(
        lambda: api.delete("/api/v1/memory/subjects/client/901"),
        lambda: api.post(f"{URL}/replan", json={"plan_id": other, "dry_run": False}),
    )
    await ok(gone)
    await ok(scheduled)
    async with race.sessionmaker() as session:
        left = await session.scalars(
            select(CalendarEntry.almanac_id).where(
                CalendarEntry.almanac_id.like(f"plan{forgotten}-%")
            )
        )
        assert list(left) == []
        assert await session.get(Plan, forgotten) is None
    assert await check_calendar(race) == []
