"""Every estimate a plan shows, at the edges of rounding and of the task limit: its 80%
interval surrounds it, in positive hours; caps are said; library figures are the library's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ok
from tests.planner.test_estimates_edges import plan, run, workflow

pytestmark = pytest.mark.usefixtures("generous_rate_limits")


def outside(drafted: dict[str, Any]) -> list[dict[str, Any]]:
    """The estimates whose interval does not hold them, or holds no time at all."""
    return [
        e for e in drafted["estimates"] if not 0 < e["low_hours"] <= e["hours"] <= e["high_hours"]
    ]


async def test_an_estimate_held_at_the_task_limit_stays_inside_its_interval(
    client: httpx.AsyncClient,
) -> None:
    # History says 5x a 200 h task: the plan holds 200 h, but its interval started at
    # about 500 h (low 498.58 > hours 200).
    wid = await workflow(client, 200.0)
    await run(client, wid, "2026-01-05T00:00:00Z", 1000.0)
    drafted = await plan(client, wid)
    assert drafted["estimates"][0]["hours"] == 200.0
    assert outside(drafted) == []


async def test_a_rounded_small_estimate_stays_inside_its_interval(
    client: httpx.AsyncClient,
) -> None:
    # A 0.33 h task that ran in 0.01 h four times: the estimate is capped at 0.2x (0.066 h)
    # and rounded to 0.05 h, below its interval's low end of 0.07 h.
    wid = await workflow(client, 0.33)
    for day in range(5, 9):
        await run(client, wid, f"2026-01-0{day}T00:00:00Z", 0.01)
    drafted = await plan(client, wid)
    assert drafted["estimates"][0]["capped"]
    assert outside(drafted) == []


async def test_a_tiny_library_task_has_an_interval_of_positive_hours(
    client: httpx.AsyncClient,
) -> None:
    # No history: a 0.01 h task's interval read 0.0 h to 0.02 h around an estimate of 0.05 h.
    wid = await workflow(client, 0.01)
    drafted = await plan(client, wid)
    assert outside(drafted) == []


@pytest.mark.parametrize("hours", [0.33, 0.01])
@pytest.mark.parametrize("estimates", ["library", None])
async def test_library_estimates_are_the_library_figures_as_written(
    client: httpx.AsyncClient, estimates: str | None, hours: float
) -> None:
    # Asked for (or with no history), a 0.33 h library task was planned at 0.35 h, and a
    # 0.01 h one at 0.05 h: "library estimates" that were not the library's.
    wid = await workflow(client, hours)
    body: dict[str, Any] = {"intent": "do the long task", "workflow_id": wid}
    if estimates is not None:
        body["estimates"] = estimates
    drafted = await ok(await client.post("/api/v1/planner/plan", json=body), 201)
    (estimate,) = drafted["estimates"]
    assert estimate["basis"] == "library" and estimate["library_hours"] == hours
    assert estimate["hours"] == hours and drafted["total_hours"] == hours
    assert drafted["sop"]["steps"][0]["tasks"][0]["estimate_hours"] == hours
