"""A reflection over runs whose estimate is a subnormal (stored before SOP estimates were
rounded to six decimals): the variance was infinite, Postgres refused the report's JSON
and POST /observer/reflect answered 500."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ok

API = "/api/v1/planner"


async def test_a_subnormal_estimate_is_refused_and_old_ones_do_not_break_reflect(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    task = {"id": "t", "title": "T", "estimate_hours": 5e-324}
    body = {"name": "tiny", "steps": [{"id": "s", "title": "S", "tasks": [task]}]}
    r = await client.post(f"{API}/workflows", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "steps[0].tasks[0].estimate_hours"
    assert "0.000001" in r.json()["errors"][0]["message"]
    task["estimate_hours"] = 1.0
    workflow = await ok(await client.post(f"{API}/workflows", json=body), 201)
    for _ in range(3):  # drift needs a few runs
        plan = await ok(
            await client.post(
                f"{API}/plan", json={"intent": "tiny", "workflow_id": workflow["id"]}
            ),
            201,
        )
        approved = await ok(await client.post(f"{API}/plans/{plan['id']}/approve"))
        (task_id,) = approved["task_ids"]
        # As an older server stored a 5e-324 h estimate.
        await db_session.execute(
            text(
                "UPDATE tasks SET estimate_hours = 5e-324, metadata = jsonb_set(metadata, "
                "'{library_hours}', '5e-324') WHERE id = :id"
            ),
            {"id": task_id},
        )
        await ok(await client.patch(f"{API}/tasks/{task_id}", json={"status": "done"}))
        await ok(await client.post(f"{API}/tasks/{task_id}/time", json={"hours": 2}))
    for mode in ("daily", "weekly"):
        report = await ok(await client.post("/api/v1/observer/reflect", params={"mode": mode}))
        assert report["report"]["drift"] == []  # no variance to read from these runs
    await ok(await client.get("/api/v1/observer/patterns"))
