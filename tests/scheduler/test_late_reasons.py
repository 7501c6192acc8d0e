"""Late blocks say why no earlier time was possible, truly (issue 15, "Honest reasons")."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import at, make_plan, next_monday

URL = "/api/v1/scheduler/schedule"


async def reasons(client: httpx.AsyncClient, plan_id: int) -> dict[str, list[str]]:
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    r = await client.post(URL, json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert out["unplaced"] == []
    by_task: dict[str, list[str]] = {}
    for b in sorted(out["blocks"], key=lambda b: b["start"]):
        by_task.setdefault(b["task_key"], []).append(b["reason"])
    return by_task


async def test_a_task_late_because_of_its_dependency_says_so(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """'Write-up' (due 11:00) must follow a 4-hour 'Research': it was said to be late
    because "the free time before it went to more urgent or higher-priority work", and
    LATE by 3.2 h when it was 3 h 15 min."""
    monday = next_monday()
    tasks = [
        {"key": "research", "estimate_hours": 4.0},
        {"key": "write-up", "estimate_hours": 1.0, "depends_on": ["research"]},
    ]
    tasks[1]["deadline"] = at(monday, 11)
    by_task = await reasons(sched_client, (await make_plan(db_session, tasks)).id)
    (late,) = by_task["write-up"]
    assert "LATE by 3.25 h after the same-day deadline" in late, late
    assert "it must follow 'Research', which ends at 13:15" in late, late
    assert "urgent" not in late and "priority" not in late, late


async def test_a_task_that_cannot_fit_in_its_parts_before_the_deadline_says_so(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """3 h due at noon: 09:00-12:00 is free, but the task takes two parts (2 h at most
    each) with a gap between them, so it cannot end by noon whatever else is placed. It was
    said to have lost the time to "more urgent or higher-priority work" -- here a
    lower-priority task."""
    monday = next_monday()
    tasks = [
        {"key": "urgent", "estimate_hours": 3.0, "priority": 4, "deadline": at(monday, 12)},
        {"key": "low", "estimate_hours": 2.0, "priority": 1, "deadline": at(monday, 12)},
    ]
    by_task = await reasons(sched_client, (await make_plan(db_session, tasks)).id)
    late = [r for r in by_task["urgent"] if "LATE" in r]
    assert late, by_task
    assert all("there is not enough free working time before it" in r for r in late), late
    assert not any("higher-priority" in r for r in late), late


async def test_a_repair_that_leaves_a_deadline_missed_points_to_a_full_replan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A repair replan moved a task past its deadline where a full replan met it, and the
    answer said nothing of it (no violation, no warning)."""
    monday = next_monday()
    tasks = [
        {"key": "research", "estimate_hours": 4.0},
        {"key": "write-up", "estimate_hours": 1.0, "depends_on": ["research"]},
    ]
    tasks[1]["deadline"] = at(monday, 11)
    plan = await make_plan(db_session, tasks)
    body = {"plan_id": plan.id, "start_date": monday.isoformat(), "horizon_days": 5}
    first = await sched_client.post(URL, json={**body, "dry_run": False})
    assert first.status_code == 200, first.text
    # The first schedule had no blocks to keep: nothing for a full replan to do better.
    assert not any("full replan" in w for w in first.json()["warnings"])
    r = await sched_client.post("/api/v1/scheduler/replan", json={"plan_id": plan.id})
    assert r.status_code == 200, r.text
    said = [w for w in r.json()["warnings"] if "end after their deadline" in w]
    assert said and f"almanac replan {plan.id} --full" in said[0], r.json()["warnings"]
    full = await sched_client.post(
        "/api/v1/scheduler/replan", json={"plan_id": plan.id, "scope": "full"}
    )
    assert not any("full replan" in w for w in full.json()["warnings"])
