"""Estimates through the API: per client, on request from the library, one figure everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Task, Workflow
from tests.conftest import ok

LIBRARY_TOTAL = 7.5  # the onboarding workflow of tests/planner/conftest.py
START = datetime.now(UTC) - timedelta(weeks=8)


pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def engagement(
    api: httpx.AsyncClient, workflow_id: int, client_id: int | None, pace: float, week: int
) -> dict[str, Any]:
    """Plan, approve and log one engagement whose tasks take `pace` x the library."""
    body: dict[str, Any] = {"intent": "onboard a new client", "workflow_id": workflow_id}
    if client_id is not None:
        body["client_id"] = client_id
    plan = await ok(await api.post("/api/v1/planner/plan", json=body), 201)
    approved = await ok(await api.post(f"/api/v1/planner/plans/{plan['id']}/approve"))
    library = {e["task_id"]: e["library_hours"] for e in plan["estimates"]}
    tasks = [t for s in plan["sop"]["steps"] for t in s["tasks"]]
    start = START + timedelta(weeks=week, hours=client_id or 0)
    for task_id, task in zip(approved["task_ids"], tasks, strict=True):
        actual = library[task["id"]] * pace
        run = await ok(
            await api.post(
                "/api/v1/planner/execution-runs",
                json={"task_id": task_id, "started_at": start.isoformat()},
            ),
            201,
        )
        await ok(
            await api.post(
                f"/api/v1/planner/execution-runs/{run['id']}/stop",
                json={
                    "ended_at": (start + timedelta(hours=actual)).isoformat(),
                    "actual_hours": actual,
                },
            )
        )
        # Learning waits until a task is done: its hours are then the task's measure.
        done = {"status": "done"}
        await ok(await api.patch(f"/api/v1/planner/tasks/{task_id}", json=done))
    return plan


async def plan_for(api: httpx.AsyncClient, workflow_id: int, **extra: Any) -> dict[str, Any]:
    body = {"intent": "onboard a new client", "workflow_id": workflow_id, **extra}
    result: dict[str, Any] = await ok(await api.post("/api/v1/planner/plan", json=body), 201)
    return result


async def test_the_same_intent_for_three_clients_gets_three_estimates(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    wid = library["onboarding"].id
    paces = {1: 1.6, 2: 1.0, 3: 0.6}
    for week in range(4):
        for client_id, pace in paces.items():
            await engagement(client, wid, client_id, pace, week)
    totals = {}
    for client_id, pace in paces.items():
        plan = await plan_for(client, wid, client_id=client_id)
        totals[client_id] = plan["total_hours"]
        # Each within 15% of this client's own pace, not the average of all three.
        assert abs(plan["total_hours"] / (LIBRARY_TOTAL * pace) - 1) < 0.15, plan["estimates"]
        for e in plan["estimates"]:
            assert e["basis"] == "client" and e["client_runs"] == 16 and e["runs"] == 48
            assert e["low_hours"] <= e["hours"] <= e["high_hours"]
            assert "for this client" in e["note"]
    assert totals[1] > totals[2] > totals[3]
    # A client never seen before borrows the workflow's pace and says so.
    newcomer = await plan_for(client, wid, client_id=42)
    assert {e["basis"] for e in newcomer["estimates"]} == {"workflow"}
    assert totals[3] < newcomer["total_hours"] < totals[1]
    # Approved tasks remember the library's estimate they were planned from: their runs are
    # measured against it, not against the (calibrated) figure the plan used.
    rows = (await db_session.scalars(select(Task).where(Task.client_id == 1))).all()
    assert rows and all(t.metadata_["library_hours"] > 0 for t in rows)
    assert all(t.metadata_["workflow_id"] == wid for t in rows)


async def test_a_request_can_ask_for_library_estimates(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    wid = library["onboarding"].id
    for week in range(3):
        await engagement(client, wid, 7, 2.0, week)
    calibrated = await plan_for(client, wid, client_id=7)
    assert calibrated["total_hours"] > 1.5 * LIBRARY_TOTAL
    plain = await plan_for(client, wid, client_id=7, estimates="library")
    assert plain["total_hours"] == LIBRARY_TOTAL
    assert plain["estimates_mode"] == "library" and plain["calibration"] == []
    assert {e["basis"] for e in plain["estimates"]} == {"library"}
    assert any("Library estimates were requested" in n for n in plain["notes"])
    # And the next request is calibrated again: nothing was switched for the server.
    again = await plan_for(client, wid, client_id=7)
    assert again["total_hours"] == calibrated["total_hours"]


async def test_a_bad_estimates_mode_is_a_clear_422(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    r = await client.post(
        "/api/v1/planner/plan",
        json={"intent": "onboard a new client", "estimates": "guess"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any("estimates" in str(e.get("field", "")) for e in r.json()["errors"])


async def test_the_observer_suggests_what_the_planner_plans(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    wid = library["onboarding"].id
    for week, (client_id, pace) in enumerate([(1, 1.4), (2, 1.2), (None, 1.3)] * 2):
        await engagement(client, wid, client_id, pace, week)
    patterns = await ok(await client.get("/api/v1/observer/patterns"))
    (pattern,) = [p for p in patterns if p["workflow_id"] == wid]
    plan = await plan_for(client, wid)  # no client: the workflow's typical client
    assert pattern["suggested_estimate_hours"] == plan["total_hours"]
    # Both measure against the library: the pattern's estimate is the library's.
    assert pattern["current_estimate_hours"] == LIBRARY_TOTAL
    assert pattern["mean_variance_pct"] > 15
    # Per client too, and the pattern says what its estimate rests on.
    by_client = {c["client_id"]: c for c in pattern["client_estimates"]}
    assert set(by_client) == {1, 2} and by_client[1]["runs"] == 8
    for client_id in (1, 2):
        plan = await plan_for(client, wid, client_id=client_id)
        assert by_client[client_id]["suggested_hours"] == plan["total_hours"]
    assert by_client[1]["suggested_hours"] > by_client[2]["suggested_hours"]
    assert pattern["estimate_basis"]["runs"] == 24


async def test_a_cap_that_applies_is_said_in_the_plan(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    wid = library["onboarding"].id
    for week in range(4):
        await engagement(client, wid, 5, 8.0, week)
    plan = await plan_for(client, wid, client_id=5)
    capped = [e for e in plan["estimates"] if e["capped"]]
    assert capped and all(e["hours"] == round(e["library_hours"] * 5, 2) for e in capped)
    assert all("capped at the bound" in e["note"] for e in capped)
    assert any("0.2x-5x" in n and capped[0]["task_id"] in n for n in plan["notes"])


async def test_plans_over_an_unchanged_history_reuse_its_fit_and_a_new_run_is_seen(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    from almanac.planner.fit_cache import FITS

    wid = library["onboarding"].id
    for week in range(2):
        await engagement(client, wid, 1, 1.5, week)
    before = FITS.fitted
    first = await plan_for(client, wid, client_id=1)
    assert FITS.fitted == before + 1
    again = await plan_for(client, wid, client_id=1)
    assert FITS.fitted == before + 1  # the same runs: the fit was kept
    assert again["estimates"] == first["estimates"]
    await engagement(client, wid, 1, 3.0, 2)  # a slower engagement logged: a new history
    fits = FITS.fitted
    later = await plan_for(client, wid, client_id=1)
    assert FITS.fitted == fits + 1
    assert later["total_hours"] > first["total_hours"]


async def test_a_plan_for_no_client_says_it_is_planned_at_the_typical_clients_pace(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # A plan naming no client said each estimate rested on "none for this client", as if a
    # client had been named and had no history; it is the typical client's pace.
    wid = library["onboarding"].id
    for week, (client_id, pace) in enumerate([(1, 1.6), (2, 0.8)] * 2):
        await engagement(client, wid, client_id, pace, week)
    plan = await plan_for(client, wid)
    for e in plan["estimates"]:
        assert e["basis"] == "workflow" and e["client_runs"] == 0
        assert "for this client" not in e["note"]
        assert "no client named: the typical client's pace" in e["note"]
    newcomer = await plan_for(client, wid, client_id=9)
    assert all("none for this client" in e["note"] for e in newcomer["estimates"])
