"""A plan's record of calibrated estimates counts the runs it rests on as they were logged."""

from __future__ import annotations

import httpx
import pytest

from almanac.models import Workflow
from tests.planner.test_estimates_api import engagement, plan_for

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


async def test_a_client_calibration_says_how_many_runs_were_this_clients(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    # Client 1: three engagements of four tasks; client 2: one. Client 2's calibration
    # entries read "16 runs, by client" (the dashboard showed exactly that), though 4 of
    # the 16 were client 2's.
    wid = library["onboarding"].id
    for week in range(3):
        await engagement(client, wid, 1, 1.6, week)
    await engagement(client, wid, 2, 0.7, 3)
    plan = await plan_for(client, wid, client_id=2)
    assert plan["calibration"]
    for c in plan["calibration"]:
        assert (c["basis"], c["runs"], c["client_runs"]) == ("client", 16, 4)
    newcomer = await plan_for(client, wid, client_id=3)
    assert {(c["basis"], c["client_runs"]) for c in newcomer["calibration"]} == {("workflow", 0)}
