"""A block moved by hand into a sprint's week is checked against the sprint's capacity, as
the solve is and as a move is against the daily maximum."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import almanac_entries, at, make_plan, next_monday, parse
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
