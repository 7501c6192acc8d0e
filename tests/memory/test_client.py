"""The Memory Gateway as other parts see it: in-process and over HTTP give the same answers."""

from __future__ import annotations

import httpx
import pytest

from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.memory.client import HttpMemoryClient
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
