"""Cancelling a plan closes its open tasks: no longer to do, no timer left running on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from almanac.models import Workflow
from tests.conftest import ok
from tests.planner.test_estimates_api import plan_for

P = "/api/v1/planner"


async def test_cancelling_a_plan_cancels_its_open_tasks_and_stops_their_timers(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    """After a plan was cancelled its tasks stayed todo and in progress: listed as work to
    do, a run on one stopped after the cancel counted, and a new timer started on another
    with no warning."""
    drafted = await plan_for(client, library["onboarding"].id, client_id=3)
    approved = await ok(await client.post(f"{P}/plans/{drafted['id']}/approve"))
    first, second, *rest = approved["task_ids"]
    await ok(await client.patch(f"{P}/tasks/{first}", json={"status": "done"}))
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    body = {"task_id": second, "started_at": start.isoformat()}
    running = await ok(await client.post(f"{P}/execution-runs", json=body), 201)

    out = await ok(
        await client.post(f"{P}/plans/{drafted['id']}/status", json={"status": "cancelled"})
    )
    assert sorted(out["cancelled_task_ids"]) == sorted([second, *rest])
    tasks = await ok(await client.get(f"{P}/tasks", params={"plan_id": drafted["id"]}))
    items = tasks if isinstance(tasks, list) else tasks["items"]
    status = {t["id"]: t["status"] for t in items}
    assert status[first] == "done"  # what was finished stays finished
    assert all(status[t] == "cancelled" for t in [second, *rest]), status
    # The timer stopped with the cancel; the hours it ran are kept, as a task's cancel does.
    run = await ok(await client.get(f"{P}/execution-runs/{running['id']}"))
    assert run["status"] == "cancelled" and run["ended_at"] is not None
    todo = await ok(await client.get(f"{P}/tasks", params={"status": "todo"}))
    todo_items = todo if isinstance(todo, list) else todo["items"]
    assert not [t for t in todo_items if t["plan_id"] == drafted["id"]]
    # No new timer on a cancelled task.
    r = await client.post(f"{P}/execution-runs", json={"task_id": rest[0]})
    assert r.status_code == 409 and "cancelled" in r.json()["detail"], r.text
