"""An estimate of 0, set by PATCH, leaves no time to plan: the task's future blocks all go at
once, and scheduling again gives it none (it had an assumed hour, one block more than its
estimate), with a warning that says why and not that hours were recorded."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scheduler.conftest import next_monday
from tests.tasks.test_block_fitting import of, scheduled, stored, task_id

URL = "/api/v1/planner/tasks"


async def test_an_estimate_of_zero_frees_every_block_and_gets_none_again(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tasks = [
        {"key": "spec", "estimate_hours": 2.0},
        {"key": "build", "estimate_hours": 2.0, "depends_on": ["spec"]},
    ]
    plan = await scheduled(db_session, sched_client, tasks, "A")
    spec = f"plan{plan.id}-spec-"
    assert of(await stored(db_session), spec)

    tid = await task_id(db_session, plan.id, "spec")
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": 0})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["remaining_hours"] == 0
    assert {c["change"] for c in r.json()["blocks"]} == {"freed"}, r.text
    assert not of(await stored(db_session), spec)

    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await sched_client.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert {b["task_key"] for b in out["blocks"]} == {"build"}, r.text
    assert not out["unplaced"] and not of(await stored(db_session), spec)
    said = [w for w in out["warnings"] if w.startswith("'Spec'")]
    assert said == [
        "'Spec' has an estimate of 0 h: no time was planned for it; mark it done "
        "or raise its estimate"
    ], out["warnings"]
    assert not [w for w in out["warnings"] if "assumed" in w], out["warnings"]
