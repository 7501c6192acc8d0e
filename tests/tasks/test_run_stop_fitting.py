"""Stopping a timer records its hours as a time record does: the task's future blocks beyond
what is left of its estimate leave the calendar at once, the latest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.tasks.test_block_fitting import (
    check_trimmed,
    feed,
    minutes,
    of,
    stored,
    task_id,
    with_another_plan,
)

RUNS = "/api/v1/planner/execution-runs"


async def test_stopping_a_run_trims_the_tasks_future_blocks_to_the_hours_left(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    build = [{"key": "build", "estimate_hours": 5.0}]
    plan, other = await with_another_plan(db_session, sched_client, build)
    mine, theirs = f"plan{plan.id}-build-", f"plan{other.id}-"
    before = await stored(db_session)
    assert minutes(of(before, mine)) == 300
    tid = await task_id(db_session, plan.id, "build")

    started = datetime.now(UTC) - timedelta(hours=6)
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started.isoformat()})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    assert await stored(db_session) == before  # a timer started plans nothing less yet

    ended = started + timedelta(hours=2, minutes=30)  # 2 h worked in those 2.5
    stop = {"actual_hours": 2.0, "ended_at": ended.isoformat()}
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json=stop)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed" and r.json()["actual_hours"] == 2.0
    r = await sched_client.get(f"/api/v1/planner/tasks/{tid}")
    assert r.json()["remaining_hours"] == 3.0

    after = await stored(db_session)
    check_trimmed(of(before, mine), of(after, mine), 180)
    assert of(after, theirs) == of(before, theirs)
    assert of(await feed(sched_client), mine) == of(after, mine)

    # A second timer, stopped after the rest of the estimate: no future block is left.
    started = datetime.now(UTC) - timedelta(hours=3)
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started.isoformat()})
    assert r.status_code == 201, r.text
    r = await sched_client.post(f"{RUNS}/{r.json()['id']}/stop", json={"actual_hours": 3.0})
    assert r.status_code == 200, r.text
    final = await stored(db_session)
    assert of(final, mine) == {}
    assert of(final, theirs) == of(before, theirs)
