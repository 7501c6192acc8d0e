"""Work on a task that was then cancelled says nothing about how long the task takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from almanac.models import Workflow
from tests.conftest import ok
from tests.planner.test_estimates_api import engagement, plan_for

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def patterns(api: httpx.AsyncClient, workflow_id: int) -> list[dict[str, Any]]:
    found = await ok(await api.get("/api/v1/observer/patterns"))
    return [p for p in found if p["workflow_id"] == workflow_id]


async def test_a_timer_stopped_on_a_task_then_cancelled_does_not_teach_the_estimate(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Client 3 takes twice the library (15 h). Half an hour on the 8 h audit, the timer
    # stopped, then the task cancelled (the client dropped it): the next plan for client 3
    # said 2.65 h, as if the audit were done in 0.5 h, and the observer's patterns counted
    # the cancelled task as a run of the workflow. Hours recorded with `almanac log` on a
    # task then cancelled were already left out (its run is cancelled with it).
    wid = library["onboarding"].id
    for week in range(4):
        await engagement(client, wid, 3, 2.0, week)
    before = await plan_for(client, wid, client_id=3)
    (pattern,) = await patterns(client, wid)
    approved = await ok(await client.post(f"/api/v1/planner/plans/{before['id']}/approve"))
    audit = approved["task_ids"][3]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    run = await ok(
        await client.post(
            "/api/v1/planner/execution-runs",
            json={"task_id": audit, "started_at": start.isoformat()},
        ),
        201,
    )
    stop = {"ended_at": (start + timedelta(hours=0.5)).isoformat(), "actual_hours": 0.5}
    await ok(await client.post(f"/api/v1/planner/execution-runs/{run['id']}/stop", json=stop))
    await ok(await client.patch(f"/api/v1/planner/tasks/{audit}", json={"status": "cancelled"}))
    after = await plan_for(client, wid, client_id=3)
    assert after["estimates"] == before["estimates"]
    assert after["total_hours"] == before["total_hours"] == 15.0
    (again,) = await patterns(client, wid)
    assert again == pattern
    # The half hour was still worked: the task keeps it.
    task = await ok(await client.get(f"/api/v1/planner/tasks/{audit}"))
    assert task["logged_hours"] == 0.5
