"""GET /api/v1/memory/facts/{id}: one fact, current or superseded."""

from __future__ import annotations

import httpx

FACTS = "/api/v1/memory/facts"


async def test_a_superseded_fact_is_still_readable(client: httpx.AsyncClient) -> None:
    body = {"subject_type": "user", "subject_id": "me", "fact_type": "preference", "category": "x"}
    first = (await client.post(FACTS, json={**body, "content": "Mornings"})).json()["fact"]
    second = (await client.post(FACTS, json={**body, "content": "Afternoons"})).json()
    assert second["superseded_id"] == first["id"]
    old = (await client.get(f"{FACTS}/{first['id']}")).json()
    assert old["content"] == "Mornings" and old["current"] is False and old["valid_to"]
    new = (await client.get(f"{FACTS}/{second['fact']['id']}")).json()
    assert new["current"] is True and new["supersedes_id"] == first["id"]


async def test_unknown_and_bad_ids(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{FACTS}/987654321")).status_code == 404
    assert (await client.get(f"{FACTS}/0")).status_code == 422
    assert (await client.get(f"{FACTS}/abc")).status_code == 422
