"""The observer's duration facts, recalled into plans, carry the planner's own figure."""

from __future__ import annotations

import httpx
import pytest

from almanac.models import Workflow
from tests.conftest import ok
from tests.planner.test_estimates_api import engagement, plan_for

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def test_a_recalled_duration_fact_is_the_planners_estimate_not_another_clients_pace(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Client 1 runs at 1.8x the library, client 2 at 0.9x. A reflection stored "workflow
    # Client onboarding takes 11.8 h on average over 8 runs" (the mean of all runs, six of
    # them client 1's), and client 2's 6.8 h plan recalled it as context: a second figure
    # for one estimate, from another client's pace.
    wid = library["onboarding"].id
    for week in range(6):
        await engagement(client, wid, 1, 1.8, week)
        if week % 3 == 0:
            await engagement(client, wid, 2, 0.9, week)
    await ok(await client.post("/api/v1/observer/reflect?mode=weekly"))
    (pattern,) = [
        p
        for p in await ok(await client.get("/api/v1/observer/patterns"))
        if p["workflow_id"] == wid
    ]
    typical = await plan_for(client, wid)
    assert pattern["suggested_estimate_hours"] == typical["total_hours"]
    plan = await plan_for(client, wid, client_id=2)
    facts = [c["content"] for c in plan["context"] if c["kind"] == "fact:pattern"]
    assert facts, plan["context"]
    mean = f"{round(pattern['mean_actual_hours'], 1):g} h"
    for fact in facts:
        assert f"{typical['total_hours']:g} h for a typical client" in fact
        assert mean not in fact
