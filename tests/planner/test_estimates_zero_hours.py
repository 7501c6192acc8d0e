"""A task closed with no hours recorded on it says nothing about how long it takes."""

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


async def test_tasks_done_with_zero_hours_do_not_drag_the_estimate_to_nothing(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Client 3 takes twice the library (15 h). An engagement whose tasks were closed with
    # 0 h (timers started and stopped at once, the work not tracked) was read as work
    # done in no time: the next plan for client 3 fell to 0.3x the library, and the
    # observer's patterns counted a run 100% under its estimate.
    wid = library["onboarding"].id
    for week in range(4):
        await engagement(client, wid, 3, 2.0, week)
    before = await plan_for(client, wid, client_id=3)
    (pattern,) = await patterns(client, wid)
    approved = await ok(await client.post(f"/api/v1/planner/plans/{before['id']}/approve"))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    for task_id in approved["task_ids"]:
        run = await ok(
            await client.post(
                "/api/v1/planner/execution-runs",
                json={"task_id": task_id, "started_at": start.isoformat()},
            ),
            201,
        )
        stop = {"ended_at": start.isoformat(), "actual_hours": 0}
        await ok(await client.post(f"/api/v1/planner/execution-runs/{run['id']}/stop", json=stop))
        await ok(await client.patch(f"/api/v1/planner/tasks/{task_id}", json={"status": "done"}))
    after = await plan_for(client, wid, client_id=3)
    assert after["estimates"] == before["estimates"]
    assert after["total_hours"] == before["total_hours"] == 15.0
    assert await patterns(client, wid) == [pattern]
