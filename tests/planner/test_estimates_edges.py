"""Planning on history at the edges of what the API accepts: never a 500, never a 422 for a
request that is valid (both were found by the contract test's stateful runs)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ok

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def workflow(api: httpx.AsyncClient, hours: float) -> int:
    task = {"id": "work", "title": "The work", "estimate_hours": hours}
    body = {"name": "one long task", "steps": [{"id": "s", "title": "Step", "tasks": [task]}]}
    created = await ok(await api.post("/api/v1/planner/workflows", json=body), 201)
    return int(created["id"])


async def plan(api: httpx.AsyncClient, workflow_id: int) -> dict[str, Any]:
    body = {"intent": "do the long task", "workflow_id": workflow_id}
    result: dict[str, Any] = await ok(await api.post("/api/v1/planner/plan", json=body), 201)
    return result


async def run(api: httpx.AsyncClient, workflow_id: int, at: str, actual: float) -> int:
    """Plan, approve, and record one completed run of the workflow's task at `at`."""
    drafted = await plan(api, workflow_id)
    approved = await ok(await api.post(f"/api/v1/planner/plans/{drafted['id']}/approve"))
    (task_id,) = approved["task_ids"]
    started = await ok(
        await api.post(
            "/api/v1/planner/execution-runs", json={"task_id": task_id, "started_at": at}
        ),
        201,
    )
    stop = {"ended_at": at, "actual_hours": actual}
    await ok(await api.post(f"/api/v1/planner/execution-runs/{started['id']}/stop", json=stop))
    done = {"status": "done"}  # learning waits until a task is done
    await ok(await api.patch(f"/api/v1/planner/tasks/{task_id}", json=done))
    return int(started["id"])


async def test_runs_centuries_apart_still_calibrate(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # The years 1901 and 2199 were accepted; the old run's recency weight underflows to 0
    # and the client-memory quotient was 0/0: POST /plan answered 500. The API now keeps
    # when work was done near the present, but rows an older server stored remain.
    wid = await workflow(client, 2.0)
    old = await run(client, wid, "2026-01-05T00:00:00Z", 3.0)
    new = await run(client, wid, "2026-01-06T00:00:00Z", 3.0)
    for run_id, year in ((old, 1901), (new, 2199)):
        await db_session.execute(
            text(
                "UPDATE execution_runs SET started_at = started_at + make_interval(years => :n),"
                " ended_at = ended_at + make_interval(years => :n) WHERE id = :id"
            ),
            {"n": year - 2026, "id": run_id},
        )
    drafted = await plan(client, wid)
    (estimate,) = drafted["estimates"]
    assert estimate["runs"] == 2 and estimate["basis"] == "workflow"
    # The newest run alone counts (the other weighs nothing): over the library, by less
    # than the run's 1.5x, since one run is shrunk towards the library.
    assert 2.0 < estimate["hours"] < 3.0
    patterns = await ok(await client.get("/api/v1/observer/patterns"))
    assert any(p["workflow_id"] == wid for p in patterns)


async def test_a_long_task_that_ran_longer_is_held_at_the_task_limit(
    client: httpx.AsyncClient,
) -> None:
    # 200 h is the most a task may take; history says 5x: the plan holds 200 h and says
    # why (it was a 422 naming steps.0.tasks.0.estimate_hours, a field nobody sent).
    wid = await workflow(client, 200.0)
    await run(client, wid, "2026-01-05T00:00:00Z", 1000.0)
    drafted = await plan(client, wid)
    (estimate,) = drafted["estimates"]
    assert estimate["hours"] == 200.0 and estimate["ratio"] > 1.0
    assert "the most one task may take" in estimate["note"]
    # The hold is a cap the plan reports (only the task's note said so: `capped` was false
    # and the plan's notes were silent), apart from the 0.2x-5x bound the ratio stayed in.
    assert estimate["capped"]
    assert any("Held at 200 h" in n and "work" in n for n in drafted["notes"])
    assert estimate["ratio"] < 5 and not any("0.2x-5x" in n for n in drafted["notes"])
    assert drafted["sop"]["steps"][0]["tasks"][0]["estimate_hours"] == 200.0
    fetched = await ok(await client.get(f"/api/v1/planner/plans/{drafted['id']}"))
    assert fetched["total_hours"] == 200.0


async def test_plans_and_workflows_stored_with_a_tiny_estimate_still_read(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # 4e-7 h was a valid estimate (> 0) before estimates were rounded to six decimals;
    # reading such a plan back answered 422 naming steps.0.tasks.0.estimate_hours, for
    # GET /plans (every caller's list), approve, and planning from the workflow.
    wid = await workflow(client, 2.0)
    drafted = await plan(client, wid)
    # As an older server stored them.
    await db_session.execute(
        text(
            "UPDATE plans SET sop = jsonb_set(sop, '{steps,0,tasks,0,estimate_hours}', '4e-7') "
            "WHERE id = :id"
        ),
        {"id": drafted["id"]},
    )
    await db_session.execute(
        text(
            "UPDATE workflows SET steps = jsonb_set(steps, '{0,tasks,0,estimate_hours}', '4e-7') "
            "WHERE id = :id"
        ),
        {"id": wid},
    )
    fetched = await ok(await client.get(f"/api/v1/planner/plans/{drafted['id']}"))
    assert fetched["sop"]["steps"][0]["tasks"][0]["estimate_hours"] == 0.000001
    listed = await ok(await client.get("/api/v1/planner/plans"))
    assert drafted["id"] in [p["id"] for p in listed["items"]]
    await ok(await client.post(f"/api/v1/planner/plans/{drafted['id']}/approve"))
    again = await plan(client, wid)
    assert again["sop"]["steps"][0]["tasks"][0]["estimate_hours"] >= 0.000001
    # What a caller sends is still refused.
    body = {
        "name": "tiny",
        "steps": [
            {"id": "s", "title": "S", "tasks": [{"id": "t", "title": "T", "estimate_hours": 4e-7}]}
        ],
    }
    refused = await client.post("/api/v1/planner/workflows", json=body)
    assert refused.status_code == 422, refused.text
