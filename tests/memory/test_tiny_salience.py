"""Recall and planning stay safe for any salience the API accepts: 5e-324 is in [0, 1], and
times the salience weight it underflowed in Postgres (an error): from then on every recall
and every plan answered 500. Found by the contract test's stateful run.

Real commits: the planner recalls through its own transactions."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ok
from tests.planner.conftest import ONBOARDING

TINY = 5e-324  # the smallest positive float: what property-based generators try first


async def test_a_subnormal_salience_is_stored_as_zero_and_recall_still_works(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    fact = await ok(
        await api.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": "user",
                "subject_id": "me",
                "fact_type": "preference",
                "content": "Prefers the bakery's invoices on paper",
                "salience_score": TINY,
            },
        ),
        201,
    )
    assert fact["fact"]["salience_score"] == 0.0
    await ok(
        await api.post(
            "/api/v1/memory/remember",
            json={"content": "Sent the bakery its invoice", "salience_score": TINY},
        ),
        201,
    )
    recall = await ok(await api.get("/api/v1/memory/recall", params={"query": "bakery invoice"}))
    assert {hit["kind"] for hit in recall["results"]} == {"event", "fact"}
    workflow = await ok(
        await api.post(
            "/api/v1/planner/workflows", json={"name": "Client onboarding", "steps": ONBOARDING}
        ),
        201,
    )
    # The planner recalls (the fact among them) before it plans.
    plan = await ok(
        await api.post(
            "/api/v1/planner/plan",
            json={"intent": "onboard the bakery, invoices on paper", "workflow_id": workflow["id"]},
        ),
        201,
    )
    assert any(item["kind"] == "fact:preference" for item in plan["context"])


async def test_rows_stored_before_the_rounding_do_not_break_recall(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    api = committed_client
    await ok(
        await api.post(
            "/api/v1/memory/remember",
            json={"content": "The oven at Acme Bakery broke on Monday", "session_id": "s1"},
        ),
        201,
    )
    await ok(
        await api.post(
            "/api/v1/memory/facts",
            json={
                "subject_type": "client",
                "subject_id": "7",
                "fact_type": "constraint",
                "content": "The bakery's oven is serviced on Mondays",
            },
        ),
        201,
    )
    # Enough other memories that the entity is no hub (at most 5% of memories link to it).
    others = [{"content": f"Filed expense report number {n}"} for n in range(30)]
    await ok(await api.post("/api/v1/memory/remember/batch", json={"items": others}), 201)
    async with engine.begin() as conn:  # as an older server stored them
        await conn.execute(text("UPDATE events SET salience_score = :s"), {"s": TINY})
        await conn.execute(text("UPDATE facts SET salience_score = :s"), {"s": TINY})
    facts = await ok(
        await api.get("/api/v1/memory/recall", params={"query": "oven serviced", "kinds": "fact"})
    )
    assert [hit["kind"] for hit in facts["results"]] == ["fact"]
    # The graph-linked path (the entity "acme bakery" links the memory) boosts by it too.
    linked = await ok(
        await api.get("/api/v1/memory/recall", params={"query": "acme bakery", "kinds": "event"})
    )
    assert "Acme Bakery" in linked["results"][0]["content"]
