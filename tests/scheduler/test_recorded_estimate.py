"""A task whose whole estimate is recorded, though not marked done, gets no block: the
schedule and a replan say so once, drop the blocks it had, and a task waiting on it is placed
as after a done one. Another plan's such task is not named in this plan's answer."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Task

from .conftest import almanac_entries, make_plan, next_monday

URL = "/api/v1/scheduler"
TASKS = [
    {"key": "spec", "estimate_hours": 2.0},
    {"key": "build", "estimate_hours": 2.0, "depends_on": ["spec"]},
]


def recorded(warnings: list[str], title: str) -> list[str]:
    return [w for w in warnings if w.startswith(f"{title!r} has its whole estimate")]


async def record_all(session: AsyncSession, plan_id: int, key: str) -> None:
    """The estimate recorded without the time endpoint (as before blocks were freed by it)."""
    row = await session.scalar(
        select(Task).where(Task.plan_id == plan_id, Task.plan_task_key == key)
    )
    assert row is not None
    row.metadata_ = {**(row.metadata_ or {}), "logged_hours": row.estimate_hours}
    await session.flush()


async def test_a_fully_recorded_task_gets_no_block_and_its_dependent_is_placed(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    plan = await make_plan(db_session, TASKS)
    spec = await db_session.scalar(
        select(Task.id).where(Task.plan_id == plan.id, Task.plan_task_key == "spec")
    )
    r = await sched_client.post(f"/api/v1/planner/tasks/{spec}/time", json={"hours": 2.0})
    assert r.status_code == 200, r.text

    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    keys = {b["task_key"] for b in out["blocks"]}
    assert keys == {"build"} and not out["unplaced"], r.text
    assert len(recorded(out["warnings"], "Spec")) == 1, out["warnings"]
    assert not [w for w in out["warnings"] if "dependency" in w], out["warnings"]
    ids = {e.almanac_id or "" for e in await almanac_entries(db_session)}
    assert ids and all(i.startswith(f"plan{plan.id}-build-") for i in ids)


async def test_scheduling_again_drops_the_blocks_of_a_task_with_no_hours_left(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    plan = await make_plan(db_session, TASKS)
    other = await make_plan(db_session, [{"key": "audit", "estimate_hours": 1.0}], title="B")
    start = next_monday().isoformat()
    for p in (plan, other):
        body = {"plan_id": p.id, "start_date": start, "dry_run": False}
        r = await sched_client.post(f"{URL}/schedule", json=body)
        assert r.status_code == 200 and not r.json()["unplaced"], r.text
    spec_ids = {
        e.almanac_id for e in await almanac_entries(db_session) if "-spec-" in (e.almanac_id or "")
    }
    assert spec_ids
    await record_all(db_session, plan.id, "spec")
    await record_all(db_session, other.id, "audit")

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id, "dry_run": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert "spec" not in {b["task_key"] for b in out["blocks"]}
    assert "build" in {b["task_key"] for b in out["blocks"]} and not out["unplaced"]
    assert len(recorded(out["warnings"], "Spec")) == 1, out["warnings"]
    # The other plan's task is its own business: its title is not in this plan's answer.
    assert not [w for w in out["warnings"] if "Audit" in w], out["warnings"]
    ids = {e.almanac_id for e in await almanac_entries(db_session)}
    assert not ids & spec_ids
