"""A plan left with a dependent placed and its dependency left out (by older code: another
plan's solve dropped the dependency) is repaired by a replan, not stuck behind a 409."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import at, latest_run, make_plan, next_monday
from .test_replan_apply_preview import meeting
from .test_whole_calendar import schedule

URL = "/api/v1/scheduler/replan"


async def test_a_replan_repairs_a_dependent_kept_without_its_dependency(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    monday = next_monday()
    tuesday = monday + timedelta(days=1)
    due = {"t0": at(monday, 13), "t3": at(monday, 17)}
    tasks = [
        {"key": "t0", "estimate_hours": 2.0, "priority": 1, "deadline": due["t0"]},
        {"key": "t3", "estimate_hours": 1.0, "depends_on": ["t0"], "deadline": due["t3"]},
        {"key": "y", "estimate_hours": 2.0, "priority": 4},
        {"key": "x", "estimate_hours": 1.0},  # kept where it is: the replan is a repair
    ]
    plan = await make_plan(db_session, tasks)
    plan_id = plan.id
    r = await schedule(sched_client, plan_id, dry_run=False)
    assert r.status_code == 200, r.text
    t3 = next(b for b in r.json()["blocks"] if b["task_key"] == "t3")
    t3_start = datetime.fromisoformat(t3["start"])
    # The state older code left: the last run has t3's block, none for t0 (or y).
    run = await latest_run(db_session, plan_id)
    # x kept on Tuesday, clear of the meeting below: the replan is a repair keeping it.
    x = {"task_key": "x", "chunk": 1, "reason": "", "fixed": False}
    x |= {"start": at(tuesday, 10).isoformat(), "end": at(tuesday, 11).isoformat()}
    run.schedule_blocks = [b for b in run.schedule_blocks if b["task_key"] == "t3"] + [x]
    await db_session.commit()
    # Before t3 there is room for one two-hour task only: t0 must get it, not y.
    midnight = at(monday, 0)
    if t3_start - timedelta(hours=2) > midnight:
        await meeting(sched_client, midnight, t3_start - timedelta(hours=2))

    r = await sched_client.post(URL, json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["violations"] == [], preview["violations"]
    by_key: dict[str, list[tuple[datetime, datetime]]] = {}
    for b in preview["blocks"]:
        span = (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        by_key.setdefault(b["task_key"], []).append(span)
    # t0 takes the room before t3, which stays where it was (older code put y there and
    # t0 after t3: an invalid preview, and applying it a 409).
    assert by_key["t3"] == [(t3_start, datetime.fromisoformat(t3["end"]))]
    assert max(e for _, e in by_key["t0"]) <= t3_start
    body = {"plan_id": plan_id, "run_id": preview["run_id"], "dry_run": False}
    r = await sched_client.post(URL, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["applied"]
