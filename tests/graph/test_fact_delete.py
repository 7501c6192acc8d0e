"""Deleting one fact drops the node it hung off once that node is bare, as forgetting does.

Before, only forgetting a subject cleaned these: after `DELETE /memory/facts/{id}` of the
only fact about `person:ana-ruiz`, `/graph/nodes/person:ana-ruiz/neighbors` still
answered 200 (a node with no neighbours) for a person the user holds nothing about.
"""

from __future__ import annotations

from typing import Any

import httpx

G = "/api/v1/graph"
M = "/api/v1/memory"


async def _fact(client: httpx.AsyncClient, subject: str, content: str, **extra: Any) -> int:
    kind, name = subject.split(":")
    body = {"subject_type": kind, "subject_id": name, "fact_type": "identity", "content": content}
    r = await client.post(f"{M}/facts", json={**body, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["fact"]["id"])


async def _edges(client: httpx.AsyncClient, node: str) -> list[str] | None:
    r = await client.get(f"{G}/nodes/{node}/neighbors")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return sorted(n["edge"]["type"] for n in r.json()["neighbors"])


async def _delete(client: httpx.AsyncClient, fact_id: int) -> None:
    r = await client.delete(f"{M}/facts/{fact_id}")
    assert r.status_code == 200, r.text


async def test_deleting_the_last_fact_about_a_subject_drops_its_node(client: httpx.AsyncClient):
    ana = await _fact(client, "person:ana-ruiz", "Ana Ruiz is the owner's accountant")
    assert await _edges(client, "person:ana-ruiz") == ["has_fact"]
    await _delete(client, ana)
    assert await _edges(client, "person:ana-ruiz") is None
    impact = await client.get(f"{G}/impact", params={"node": "person:ana-ruiz"})
    assert impact.status_code == 404, impact.text


async def test_a_node_something_still_hangs_off_stays(client: httpx.AsyncClient):
    first = await _fact(client, "person:dana-lee", "Dana Lee signs the invoices")
    await _fact(client, "person:dana-lee", "Dana Lee works mornings", fact_type="preference")
    await _delete(client, first)
    assert await _edges(client, "person:dana-lee") == ["has_fact"]

    # A client's node is kept by its own rules (forgetting the client), not by its facts.
    owned = await _fact(client, "client:7", "Acme pays on the 30th", client_id=7)
    await _delete(client, owned)
    assert await _edges(client, "client:7") is not None


async def test_superseding_keeps_the_node_and_deleting_the_successor_drops_it(
    client: httpx.AsyncClient,
):
    old = await _fact(client, "person:bo-chen", "Bo Chen is the CTO")
    r = await client.post(f"{M}/facts/{old}/supersede", json={"content": "Bo Chen is the CEO"})
    assert r.status_code == 201, r.text
    # The closed fact left the graph; its successor hangs off the same node.
    assert await _edges(client, "person:bo-chen") == ["has_fact"]
    await _delete(client, int(r.json()["fact"]["id"]))
    assert await _edges(client, "person:bo-chen") is None
