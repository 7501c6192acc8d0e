"""Recall and planning stay safe for any storable date (the recency term never underflows).

Real commits: the planner recalls through its own transactions."""

from __future__ import annotations

import httpx

from tests.planner.conftest import ONBOARDING


async def test_recall_and_plan_with_a_memory_from_1938_and_a_fact_from_1900(
    committed_client: httpx.AsyncClient,
):
    api = committed_client
    r = await api.post(
        "/api/v1/planner/workflows",
        json={
            "name": "Client onboarding",
            "steps": ONBOARDING,
            "metadata": {"keywords": ["onboard a new client"]},
        },
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        "/api/v1/memory/remember",
        json={
            "content": "Onboarding the bakery began in 1938",
            "occurred_at": "1938-03-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "user",
            "subject_id": "me",
            "fact_type": "identity",
            "content": "Onboarding clients like the bakery, a client since 1900",
            "valid_from": "1900-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    r = await api.get("/api/v1/memory/recall", params={"query": "bakery onboarding", "k": 5})
    assert r.status_code == 200, r.text
    assert {hit["kind"] for hit in r.json()["results"]} == {"event", "fact"}
    assert all(hit["score"] > 0 for hit in r.json()["results"])
    r = await api.post(
        "/api/v1/planner/plan", json={"intent": "onboard the bakery as a new client"}
    )
    assert r.status_code == 201, r.text
