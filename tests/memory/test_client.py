"""The Memory Gateway as other parts see it: in-process and over HTTP give the same answers."""

from __future__ import annotations

import httpx
import pytest

from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.memory.client import HttpMemoryClient
from almanac.memory.port import RemoteMemory
from almanac.memory.schemas import FactIn, FactsQuery, RecallQuery, RememberIn


async def test_http_client_round_trip(client: httpx.AsyncClient):
    gateway = HttpMemoryClient(client)
    out = await gateway.remember(RememberIn(content="Client Acme pays net 30", client_id=7))
    assert out.id > 0 and out.duplicate is False
    batch = await gateway.remember_batch(
        [RememberIn(content="Acme kickoff on Monday", client_id=7), RememberIn(content="x")]
    )
    assert len(batch.ids) == 2
    hits = await gateway.recall(RecallQuery(query="pays net 30", client_id=7, k=5))
    assert hits.results[0].id == out.id
    fact = await gateway.write_fact(
        FactIn(
            subject_type="client",
            subject_id="acme",
            fact_type="constraint",
            content="Invoices go to finance@acme.test",
        )
    )
    listed = await gateway.facts(FactsQuery(subject_id="acme"))
    assert [f.id for f in listed] == [fact.fact.id]


async def test_remote_memory_forgets_one_event_and_a_gone_one_is_done(
    client: httpx.AsyncClient,
):
    memory = RemoteMemory(HttpMemoryClient(client))
    event_id = await memory.remember(
        RememberIn(content="Plan: harbour audit", client_id=7, idempotency_key="plan:1")
    )
    await memory.forget_event(event_id)
    assert (await client.get(f"/api/v1/memory/events/{event_id}")).status_code == 404
    await memory.forget_event(event_id)  # forgotten already (by a forget of the client)


async def test_http_client_maps_problems_to_errors(client: httpx.AsyncClient):
    gateway = HttpMemoryClient(client)
    await gateway.remember(RememberIn(content="one", idempotency_key="k1"))
    with pytest.raises(AlmanacError) as info:
        await gateway.remember(RememberIn(content="two", idempotency_key="k1"))
    assert info.value.status_code == 409


async def test_http_client_gateway_down_is_dependency_unavailable():
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.5) as http:
        with pytest.raises(DependencyUnavailable):
            await HttpMemoryClient(http).recall(RecallQuery(query="anything"))


async def test_the_planners_own_key_refused_is_503_naming_the_setting(
    client: httpx.AsyncClient, state, db_session
):
    """In the two-process mode a Gateway refusing the Planner's key (wrong, or read-only)
    was passed on as that 401/403: the caller, whose key is fine, was told a key was not
    valid; the observer recorded its fact proposals as "rejected" (lost). It is a 503
    naming the setting; the CLI, calling with the user's own key, still sees the 401/403."""
    from tests.conftest import app_in_transaction, http_client

    r = await client.post("/api/v1/auth/keys", json={"name": "planner-ro", "scope": "read"})
    assert r.status_code == 201, r.text
    app = app_in_transaction(state, db_session)
    fact = FactIn(subject_type="client", subject_id="acme", fact_type="constraint", content="x")
    for key, status in (("alm_" + "q" * 43, 401), (r.json()["key"], 403)):
        async with http_client(app, key=key) as http:
            with pytest.raises(DependencyUnavailable) as info:
                await HttpMemoryClient(http, own_key=True).write_fact(fact)
            assert info.value.status_code == 503
            assert f"({status}:" in info.value.message
            assert "ALMANAC_SERVER__MEMORY_GATEWAY_KEY" in info.value.message
            with pytest.raises(AlmanacError) as info:
                await HttpMemoryClient(http).write_fact(fact)
            assert info.value.status_code == status


async def test_a_gateway_5xx_is_503_with_retry_after():
    """A Gateway 500 was answered to the Planner's caller as a 500."""
    from tests.doubles.failing_gateway import FailingGateway

    gw = FailingGateway(500, "boom")
    try:
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as http:
            fact = FactIn(subject_type="c", subject_id="a", fact_type="constraint", content="x")
            with pytest.raises(DependencyUnavailable) as info:
                await HttpMemoryClient(http, own_key=True).write_fact(fact)
    finally:
        gw.close()
    assert info.value.status_code == 503 and "answered 500: boom" in info.value.message
    assert info.value.headers == {"Retry-After": "5"}
