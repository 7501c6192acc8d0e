"""Work that says nothing about how long a task takes teaches no estimate: the work on a
task then cancelled, and tasks closed with no hours recorded."""

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


async def twice_the_library(
    api: httpx.AsyncClient, wid: int
) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """Client 3 after four engagements at twice the library (15 h): its plan, the
    workflow's pattern, and the task ids of that plan, approved."""
    for week in range(4):
        await engagement(api, wid, 3, 2.0, week)
    plan = await plan_for(api, wid, client_id=3)
    (pattern,) = await patterns(api, wid)
    approved = await ok(await api.post(f"/api/v1/planner/plans/{plan['id']}/approve"))
    return plan, pattern, list(approved["task_ids"])


async def stopped(api: httpx.AsyncClient, task_id: int, hours: float) -> None:
    """A timer on the task, started a day ago and stopped after `hours`."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    body = {"task_id": task_id, "started_at": start.isoformat()}
    run = await ok(await api.post("/api/v1/planner/execution-runs", json=body), 201)
    stop = {"ended_at": (start + timedelta(hours=hours)).isoformat(), "actual_hours": hours}
    await ok(await api.post(f"/api/v1/planner/execution-runs/{run['id']}/stop", json=stop))


async def test_a_timer_stopped_on_a_task_then_cancelled_does_not_teach_the_estimate(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Half an hour on the 8 h audit, the timer stopped, then the task cancelled (the client
    # dropped it): the next plan for client 3 read it as the audit done in 0.5 h (every
    # estimate moved by a quarter, a "change of pace"), and the observer's patterns counted
    # the cancelled task as a run of the workflow. Hours recorded with `almanac log` on a
    # task then cancelled were already left out (its run is cancelled with it).
    wid = library["onboarding"].id
    before, pattern, task_ids = await twice_the_library(client, wid)
    audit = task_ids[3]
    await stopped(client, audit, 0.5)
    await ok(await client.patch(f"/api/v1/planner/tasks/{audit}", json={"status": "cancelled"}))
    after = await plan_for(client, wid, client_id=3)
    assert after["estimates"] == before["estimates"]
    assert after["total_hours"] == before["total_hours"] == 15.0
    assert await patterns(client, wid) == [pattern]
    # The half hour was still worked: the task keeps it.
    task = await ok(await client.get(f"/api/v1/planner/tasks/{audit}"))
    assert task["logged_hours"] == 0.5


async def test_tasks_done_with_zero_hours_do_not_drag_the_estimate_to_nothing(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # An engagement whose tasks were closed with 0 h (timers started and stopped at once,
    # the work not tracked) was read as work done in no time: the next plan for client 3
    # fell to 0.3x the library, and the patterns counted a run 100% under its estimate.
    wid = library["onboarding"].id
    before, pattern, task_ids = await twice_the_library(client, wid)
    for task_id in task_ids:
        await stopped(client, task_id, 0)
        await ok(await client.patch(f"/api/v1/planner/tasks/{task_id}", json={"status": "done"}))
    after = await plan_for(client, wid, client_id=3)
    assert after["estimates"] == before["estimates"]
    assert after["total_hours"] == before["total_hours"] == 15.0
    assert await patterns(client, wid) == [pattern]


async def test_a_timer_on_a_task_not_done_teaches_nothing_until_it_is_done(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # One hour on the 8 h audit, the timer stopped, the task still in progress: the next
    # plan read it as the audit done in an hour ("a change of pace", every estimate down),
    # and the patterns counted a run, though the README says learning waits until a task
    # is done. Done, its hours are the task's measure.
    wid = library["onboarding"].id
    before, pattern, task_ids = await twice_the_library(client, wid)
    audit = task_ids[3]
    await stopped(client, audit, 1.0)
    task = await ok(await client.get(f"/api/v1/planner/tasks/{audit}"))
    assert task["status"] == "in_progress" and task["logged_hours"] == 1.0
    after = await plan_for(client, wid, client_id=3)
    assert after["estimates"] == before["estimates"]
    assert after["total_hours"] == before["total_hours"]
    assert await patterns(client, wid) == [pattern]
    await ok(await client.patch(f"/api/v1/planner/tasks/{audit}", json={"status": "done"}))
    done = await plan_for(client, wid, client_id=3)
    assert done["total_hours"] < before["total_hours"]
    assert await patterns(client, wid) != [pattern]
