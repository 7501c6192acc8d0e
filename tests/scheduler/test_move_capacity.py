"""A block moved by hand into a sprint's week is checked against the sprint's capacity, as
the solve is and as a move is against the daily maximum."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import Memories, almanac_entries, at, make_plan, next_monday, parse
from .test_whole_calendar import URL, schedule


async def test_a_move_past_a_sprints_capacity_is_409_unless_forced(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    later = next_monday(2)
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": later.isoformat(), "capacity_hrs": 3}
    )
    assert r.status_code == 201, r.text
    plan = await make_plan(db_session, [{"key": f"t{i}", "estimate_hours": 2.0} for i in range(3)])
    r = await schedule(sched_client, plan.id, dry_run=False)  # this week: no sprint
    assert r.status_code == 200, r.text
    blocks = {b["task_key"]: b for b in r.json()["blocks"]}
    assert all(parse(b["start"]) < at(later, 0) for b in blocks.values())
    # One block (2 h) fits the sprint's week; a second would make 4 h of 3.
    first = {"start": at(later, 9).isoformat(), "end": at(later, 11).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{blocks['t2']['almanac_id']}", json=first)
    assert r.status_code == 200, r.text
    tuesday = later + timedelta(days=1)
    second = {"start": at(tuesday, 9).isoformat(), "end": at(tuesday, 11).isoformat()}
    aid = blocks["t1"]["almanac_id"]
    r = await sched_client.put(f"{URL}/calendar/{aid}", json=second)
    assert r.status_code == 409, r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes the sprint week of {later:%a %d %b} 4 h of work, above its capacity of 3 h"
    ]
    assert parse(blocks["t1"]["start"]) < at(later, 0)  # not moved
    assert {e.almanac_id: e.start_at for e in await almanac_entries(db_session)}[aid] == parse(
        blocks["t1"]["start"]
    )
    # Within the week, a block already there may move (the week gets no longer).
    r = await sched_client.put(
        f"{URL}/calendar/{blocks['t2']['almanac_id']}",
        json={"start": at(tuesday, 13).isoformat(), "end": at(tuesday, 15).isoformat()},
    )
    assert r.status_code == 200, r.text
    r = await sched_client.put(f"{URL}/calendar/{aid}", json={**second, "force": True})
    assert r.status_code == 200, r.text
    assert any("capacity of 3 h" in w for w in r.json()["warnings"])
    assert r.json()["block"]["fixed"] is True


async def test_a_move_past_the_weekly_maximum_is_409_unless_forced(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    # "max 4h/week" capped the solve's weeks, but a hand move was checked only against a
    # sprint's capacity: with no sprint, a 6 h week was a 200 with no warning.
    await memory.add("preference", "Max 4h/week")
    monday = next_monday()
    plan = await make_plan(db_session, [{"key": f"t{i}", "estimate_hours": 2.0} for i in range(3)])
    r = await schedule(sched_client, plan.id, dry_run=False, horizon_days=12)
    assert r.status_code == 200, r.text
    blocks = r.json()["blocks"]
    later = [b for b in blocks if parse(b["start"]) >= at(monday + timedelta(days=7), 0)]
    assert len(blocks) == 3 and len(later) == 1, blocks  # 4 h this week, 2 h the next
    friday = monday + timedelta(days=4)
    onto = {"start": at(friday, 9).isoformat(), "end": at(friday, 11).isoformat()}
    aid = later[0]["almanac_id"]
    r = await sched_client.put(f"{URL}/calendar/{aid}", json=onto)
    assert r.status_code == 409, r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes the week of {monday:%a %d %b} 6 h of work, above the weekly maximum of 4 h"
    ]
    # Within its week a block may move (the week gets no longer).
    first = next(b for b in blocks if b is not later[0])
    r = await sched_client.put(f"{URL}/calendar/{first['almanac_id']}", json=onto)
    assert r.status_code == 200, r.text
    afternoon = {"start": at(friday, 13).isoformat(), "end": at(friday, 15).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{aid}", json={**afternoon, "force": True})
    assert r.status_code == 200, r.text
    assert any("weekly maximum of 4 h" in w for w in r.json()["warnings"])


async def test_a_sprint_smaller_than_the_weekly_maximum_is_the_one_a_move_breaks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    await memory.add("preference", "max 40 hours a week")
    later = next_monday(2)
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": later.isoformat(), "capacity_hrs": 3}
    )
    assert r.status_code == 201, r.text
    plan = await make_plan(db_session, [{"key": f"t{i}", "estimate_hours": 2.0} for i in range(2)])
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    blocks = r.json()["blocks"]
    for n, b in enumerate(blocks):
        day = later + timedelta(days=n)
        moved = {"start": at(day, 9).isoformat(), "end": at(day, 11).isoformat()}
        r = await sched_client.put(f"{URL}/calendar/{b['almanac_id']}", json=moved)
        assert r.status_code == (200 if n == 0 else 409), r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes the sprint week of {later:%a %d %b} 4 h of work, above its capacity of 3 h"
    ]


async def test_a_block_is_moved_by_the_id_the_calendar_api_gives_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`GET /calendar/events` lists a block as event 32 (`source: almanac`); moving
    `/scheduler/calendar/32` was a 404 "'32' is not an Almanac block"."""
    plan = await make_plan(db_session, [{"key": "t0", "estimate_hours": 2.0}])
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    (block,) = r.json()["blocks"]
    entry = next(
        e for e in await almanac_entries(db_session) if e.almanac_id == block["almanac_id"]
    )
    later = next_monday(2)
    target = {"start": at(later, 9).isoformat(), "end": at(later, 11).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{entry.id}", json=target)
    assert r.status_code == 200, r.text
    assert r.json()["block"]["almanac_id"] == block["almanac_id"]
    r = await sched_client.put(f"{URL}/calendar/999999999", json=target)
    assert r.status_code == 404 and "not an Almanac block" in r.json()["detail"], r.text
    # An id with a slash in it (encoded) reached no route: a bare "Not Found".
    for odd in ("..%2F..%2Fx", "a%2Fb"):
        r = await sched_client.put(f"{URL}/calendar/{odd}", json=target)
        assert r.status_code == 404 and "not an Almanac block" in r.json()["detail"], r.text
        assert r.json()["errors"][0]["field"] == "event_id", r.text


async def test_a_block_shortened_by_hand_says_the_task_is_now_short(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A 2 h block moved to half an hour was a 200 with no warning: the task was 1.5 h
    short until the next replan."""
    plan = await make_plan(db_session, [{"key": "t0", "estimate_hours": 2.0}])
    r = await schedule(sched_client, plan.id, dry_run=False)
    (block,) = r.json()["blocks"]
    later = next_monday(2)
    target = {"start": at(later, 9).isoformat(), "end": at(later, 9, 30).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{block['almanac_id']}", json=target)
    assert r.status_code == 200, r.text
    (warning,) = r.json()["warnings"]
    assert "1.5 h shorter" in warning and f"almanac replan {plan.id}" in warning, warning
    # Moved at its length: no such warning.
    target = {"start": at(later, 13).isoformat(), "end": at(later, 13, 30).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{block['almanac_id']}", json=target)
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text
