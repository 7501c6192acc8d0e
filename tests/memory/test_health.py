"""GET /health reports each dependency."""

from __future__ import annotations

import httpx


async def test_health_ok(client: httpx.AsyncClient):
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["dependencies"]) >= {"database", "cache", "embedder"}
    assert body["dependencies"]["database"]["status"] == "ok"
    assert body["services"] == ["memory", "planner"]


async def test_openapi_lists_memory_contract(client: httpx.AsyncClient):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/memory/remember",
        "/api/v1/memory/remember/batch",
        "/api/v1/memory/recall",
        "/api/v1/memory/facts",
        "/api/v1/memory/facts/{fact_id}/supersede",
        "/api/v1/memory/subjects/{subject_type}/{subject_id}",
    ):
        assert path in paths
