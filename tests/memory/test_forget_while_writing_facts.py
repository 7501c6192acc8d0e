"""Forgetting a client while facts about it are written and superseded through the API.

A fact write updates the search words and statistics a forget's deletes update too, in
another order: Postgres broke the cycle by failing one of them, a 503 naming SQLSTATE
40P01 (4 to 8 of 96 requests of the first test). A fact write or supersede now waits for
a forget under way, and a forget for the writes under way, as a remember does: none fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

ROUNDS = 24
F = "/api/v1/memory/facts"


def fact(i: int) -> dict[str, str]:
    return {
        "subject_type": "client",
        "subject_id": "7",
        "fact_type": "preference",
        "category": f"calls-{i % 3}",
        "content": f"Acme prefers calls on Tuesday mornings {uuid.uuid4().hex[:6]}",
    }


async def forget(api: httpx.AsyncClient, statuses: Counter[str], problems: list[str]) -> None:
    r = await api.delete("/api/v1/memory/subjects/client/7")
    statuses[f"forget {r.status_code}"] += 1
    if r.status_code != 200:
        problems.append(r.text)


async def nothing_left(api: httpx.AsyncClient) -> None:
    """Whatever the last forget left is whole, and one more forget leaves nothing."""
    await api.delete("/api/v1/memory/subjects/client/7")
    facts = await api.get(F, params={"for_client": 7})
    assert facts.status_code == 200 and facts.json() == [], facts.text


async def test_fact_writes_and_forgets_of_one_client_at_once_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def write(i: int) -> None:
        r = await api.post(F, json=fact(i))
        statuses[f"write {r.status_code}"] += 1
        if r.status_code != 201:
            problems.append(r.text)

    for n in range(ROUNDS):
        await asyncio.gather(*(write(n * 3 + k) for k in range(3)), forget(api, statuses, problems))
    assert statuses == {"write 201": 3 * ROUNDS, "forget 200": ROUNDS}, problems[:3]
    await nothing_left(api)


async def test_supersedes_and_forgets_of_one_client_at_once_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def supersede(fact_id: int) -> None:
        r = await api.post(f"{F}/{fact_id}/supersede", json={"content": f"Fridays {fact_id}"})
        # 404: the forget went first and took the fact with it.
        statuses[f"supersede {201 if r.status_code == 404 else r.status_code}"] += 1
        if r.status_code not in (201, 404):
            problems.append(r.text)

    for n in range(ROUNDS):
        olds = [await api.post(F, json=fact(n * 3 + k)) for k in range(3)]
        assert all(r.status_code == 201 for r in olds), [r.text for r in olds]
        await asyncio.gather(
            *(supersede(r.json()["fact"]["id"]) for r in olds), forget(api, statuses, problems)
        )
    assert statuses == {"supersede 201": 3 * ROUNDS, "forget 200": ROUNDS}, problems[:3]
    await nothing_left(api)
