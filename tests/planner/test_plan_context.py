"""A plan is made with what memory knows (past plans, facts about its workflow) and is
remembered itself. Real commits: recall reads through its own transactions."""

from __future__ import annotations

import httpx

from tests.conftest import ok
from tests.planner.conftest import add_onboarding


async def test_past_plans_and_workflow_facts_are_recalled(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    workflow = await add_onboarding(api)
    await ok(
        await api.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": "workflow",
                "subject_id": str(workflow["id"]),
                "fact_type": "pattern",
                "content": "Client onboarding takes 9 h on average over 5 runs",
                "category": "duration",
            },
        ),
        201,
    )
    first = await ok(
        await api.post("/api/v1/planner/plan", json={"intent": "onboard Acme as a new client"}),
        201,
    )
    # The first plan already sees the fact about its workflow.
    assert any("9 h on average" in c["content"] for c in first["context"])

    second = await ok(
        await api.post("/api/v1/planner/plan", json={"intent": "onboard Globex as a new client"}),
        201,
    )
    past = [c for c in second["context"] if c["kind"] == "plan"]
    assert past and "Intent: onboard Acme as a new client" in past[0]["content"]
    assert second["degraded"] == []

    # The plan was remembered once, under its own key.
    events = await ok(
        await api.get(
            "/api/v1/memory/recall", params={"query": "onboard Acme", "event_type": "plan"}
        )
    )
    acme = [r for r in events["results"] if r["metadata"].get("plan_id") == first["id"]]
    assert len(acme) == 1
