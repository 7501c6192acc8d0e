"""A task pinned outside the window its plan is scheduled again over keeps its pin, and its
dependency, which could not go before it, is never left out silently.

The core cannot move a pin: with no free time before a pinned `t3` in the new window, its
dependency `t0` is unplaced (or, the pin lying before the window, placed after it). The
answer, the pinned block and the calendar view say so, and later replans are not stuck."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import almanac_entries, at, latest_run, make_plan, next_monday
from .test_whole_calendar import schedule

URL = "/api/v1/scheduler"
TASKS = [
    {"key": "t0", "estimate_hours": 2.0, "priority": 1, "title": "Draft"},
    {"key": "t3", "estimate_hours": 1.0, "depends_on": ["t0"], "title": "Send"},
]


async def _pin_t3(client: httpx.AsyncClient, plan_id: int, start: datetime) -> None:
    """Schedule the plan over the week, then move `t3` to `start` by hand (forced)."""
    r = await schedule(client, plan_id, dry_run=False)
    assert r.status_code == 200, r.text
    t3 = next(b for b in r.json()["blocks"] if b["task_key"] == "t3")
    move = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    r = await client.put(f"{URL}/calendar/{t3['almanac_id']}", json={**move, "force": True})
    assert r.status_code == 200, r.text


async def _view(client: httpx.AsyncClient, monday: date) -> dict[str, list[str]]:
    """The conflicts the calendar view marks on each Almanac block, by task key."""
    r = await client.get(f"{URL}/calendar", params={"start_date": str(monday)})
    assert r.status_code == 200, r.text
    return {e["id"].split("-")[1]: e["conflicts"] for e in r.json()["events"] if e["almanac"]}


def _block(answer: dict[str, Any], key: str) -> dict[str, Any]:
    [block] = [b for b in answer["blocks"] if b["task_key"] == key]
    return block


async def test_a_pin_past_a_shorter_window_keeps_and_names_its_unplaced_dependency(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    monday = next_monday()
    thursday = monday + timedelta(days=3)
    plan = await make_plan(db_session, TASKS)
    plan_id = plan.id
    await _pin_t3(sched_client, plan_id, at(thursday, 9))
    # Monday and Tuesday fill up; the plan is scheduled again over those two days only.
    body = {"title": "Workshop", "start": at(monday, 0).isoformat()}
    body["end"] = at(monday + timedelta(days=2), 0).isoformat()
    r = await sched_client.post("/api/v1/calendar/events", json=body)
    assert r.status_code == 201, r.text
    workshop = r.json()["id"]
    r = await schedule(sched_client, plan_id, dry_run=False, horizon_days=2)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["violations"] == []
    # The user's pin stays where they put it...
    t3 = _block(out, "t3")
    assert (t3["start"], t3["fixed"]) == (at(thursday, 9).isoformat(), True)
    assert t3["reason"].startswith("pinned by you")
    assert "its dependency 'Draft' could not be placed before it" in t3["reason"]
    # ...and t0, which found no room, is unplaced with a detail naming that pin.
    [t0] = [u for u in out["unplaced"] if u["task_key"] == "t0"]
    assert "'Send', which depends on it, is pinned by you at Thu" in t0["detail"]
    assert any(
        "'Send' is pinned by you" in w and "'Draft' is not placed" in w for w in out["warnings"]
    )
    # The calendar holds t3 alone, and its view says what it lacks.
    assert [e.almanac_id for e in await almanac_entries(db_session)] == [t3["almanac_id"]]
    marks = await _view(sched_client, monday)
    assert marks["t3"] == ["its dependency 'Draft' has no block before it (not placed)"]

    # A replan of that plan is not stuck: it previews valid, says the same, and applies.
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["violations"] == [] and _block(preview, "t3")["start"] == t3["start"]
    assert "pinned by you" in _block(preview, "t3")["reason"]
    assert any("'Draft' is not placed" in w for w in preview["warnings"])
    apply = {"plan_id": plan_id, "run_id": preview["run_id"], "dry_run": False}
    r = await sched_client.post(f"{URL}/replan", json=apply)
    assert r.status_code == 200, r.text
    assert r.json()["applied"]

    # With the room back, a replan puts t0 before the pin, and nothing is marked any more.
    r = await sched_client.delete(f"/api/v1/calendar/events/{workshop}")
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["violations"] == [] and preview["unplaced"] == [], preview
    assert datetime.fromisoformat(_block(preview, "t0")["end"]) <= at(thursday, 9)
    assert not any("Draft" in w for w in preview["warnings"])
    apply = {"plan_id": plan_id, "run_id": preview["run_id"], "dry_run": False}
    r = await sched_client.post(f"{URL}/replan", json=apply)
    assert r.status_code == 200, r.text
    assert all(lines == [] for lines in (await _view(sched_client, monday)).values())


async def test_a_pin_before_the_window_says_its_dependency_comes_after_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    monday = next_monday()
    tuesday = monday + timedelta(days=1)
    plan = await make_plan(db_session, TASKS)
    plan_id = plan.id
    await _pin_t3(sched_client, plan_id, at(monday, 9))  # before t0 ends: forced
    r = await schedule(
        sched_client, plan_id, dry_run=False, start_date=tuesday.isoformat(), horizon_days=2
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["violations"] == []
    t0, t3 = _block(out, "t0"), _block(out, "t3")
    assert t3["start"] == at(monday, 9).isoformat() and t0["start"] > t3["start"]
    assert "its dependency 'Draft' ends after it starts" in t3["reason"]
    assert any(
        "'Send' is pinned by you" in w and "'Draft' ends after it" in w for w in out["warnings"]
    )
    marks = await _view(sched_client, monday)
    assert len(marks["t3"]) == 1 and "starts before its dependency 'Draft' ends" in marks["t3"][0]
    assert marks["t0"] == []
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id})
    assert r.status_code == 200 and r.json()["violations"] == [], r.text
    apply = {"plan_id": plan_id, "run_id": r.json()["run_id"], "dry_run": False}
    r = await sched_client.post(f"{URL}/replan", json=apply)
    assert r.status_code == 200, r.text


async def test_a_block_the_scheduler_kept_outside_is_released_for_its_dependency(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """Not the user's pin: a replan keeps a block another plan's solve put outside the
    plan's window, but not one left there without its dependency before it."""
    monday = next_monday()
    thursday = monday + timedelta(days=3)
    plan = await make_plan(db_session, TASKS)
    plan_id = plan.id
    r = await schedule(sched_client, plan_id, dry_run=False, horizon_days=2)
    assert r.status_code == 200, r.text
    # As another plan's solve over a longer window leaves it: t3 on Thursday, outside.
    run = await latest_run(db_session, plan_id)
    thu = {"start": at(thursday, 9).isoformat(), "end": at(thursday, 10).isoformat()}
    run.schedule_blocks = [
        {**b, **thu} if b["task_key"] == "t3" else b for b in run.schedule_blocks
    ]
    [entry] = [e for e in await almanac_entries(db_session) if "-t3-" in (e.almanac_id or "")]
    entry.start_at, entry.end_at = at(thursday, 9), at(thursday, 10)
    await db_session.commit()
    body = {"title": "Workshop", "start": at(monday, 0).isoformat()}
    body["end"] = at(monday + timedelta(days=2), 0).isoformat()
    r = await sched_client.post("/api/v1/calendar/events", json=body)
    assert r.status_code == 201, r.text

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["violations"] == []
    # t0 has no room in the window: t3 does not stay on Thursday without it.
    assert {u["task_key"] for u in preview["unplaced"]} == {"t0", "t3"}
    assert preview["blocks"] == []
    assert any("'Send' was kept at Thu" in w and "given up" in w for w in preview["warnings"])
    [gone] = [m for m in preview["moves"] if m["task_key"] == "t3"]
    assert (gone["from_start"], gone["to_start"]) == (thu["start"], None)
    apply = {"plan_id": plan_id, "run_id": preview["run_id"], "dry_run": False}
    r = await sched_client.post(f"{URL}/replan", json=apply)
    assert r.status_code == 200, r.text
    assert await almanac_entries(db_session) == []
