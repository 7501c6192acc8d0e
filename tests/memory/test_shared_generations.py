"""Two processes on one database without Valkey: neither serves a recall the other has made
stale by remembering or forgetting. Each "process" has its own engine, in-process cache
and app; real commits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from almanac.app import create_app
from almanac.cache import LocalCache
from almanac.cache.shared import PostgresGenerations
from almanac.db.engine import create_engine
from almanac.deps import get_state
from almanac.state import AppState
from tests.conftest import http_client

RECALL = "/api/v1/memory/recall"


async def _process(state: AppState, pg_url: str, shared: bool) -> tuple[httpx.AsyncClient, object]:
    engine = create_engine(pg_url, pool_size=2)
    cache = LocalCache(shared=PostgresGenerations(engine) if shared else None)
    own = replace(state, cache=cache)
    app = create_app(state=own)
    app.dependency_overrides[get_state] = lambda: own
    return http_client(app), engine


@pytest.fixture(params=[True, False], ids=["shared", "per-process"])
async def two(
    request: pytest.FixtureRequest, committed_state: AppState, pg_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, bool]]:
    a, engine_a = await _process(committed_state, pg_url, request.param)
    b, engine_b = await _process(committed_state, pg_url, request.param)
    async with a, b:
        yield a, b, request.param
    for engine in (engine_a, engine_b):
        await engine.dispose()  # type: ignore[attr-defined]


async def test_no_process_serves_what_another_changed_or_forgot(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient, bool],
) -> None:
    a, b, shared = two
    r = await a.post("/api/v1/memory/remember", json={"content": "Lunch with Priya on Tuesday"})
    assert r.status_code == 201
    first = (await a.get(RECALL, params={"query": "Priya lunch"})).json()
    assert (await a.get(RECALL, params={"query": "Priya lunch"})).json()["cached"]

    r = await b.post(
        "/api/v1/memory/remember",
        json={
            "content": "Priya moved lunch to Wednesday",
            "metadata": {"subject_type": "client", "subject_id": "priya"},
        },
    )
    assert r.status_code == 201
    after_write = (await a.get(RECALL, params={"query": "Priya lunch"})).json()
    r = await b.delete("/api/v1/memory/subjects/client/priya")
    assert r.status_code == 200
    after_forget = (await a.get(RECALL, params={"query": "Priya lunch"})).json()

    contents = [h["content"] for h in after_write["results"]]
    forgotten_served = any("Wednesday" in h["content"] for h in after_forget["results"])
    if shared:
        assert not after_write["cached"] and "Priya moved lunch to Wednesday" in contents
        assert not forgotten_served
    else:
        # The per-process cache (the old behaviour, kept behind a setting) is what failed.
        assert after_write["results"] == first["results"] and after_write["cached"]
