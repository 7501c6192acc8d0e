"""Deleting one memory or one fact of a client while its memories are remembered.

The deletion prunes the words and search statistics only it held, which a remember under
way updates too, in another order: Postgres broke the cycle by failing one of them, a 503
naming SQLSTATE 40P01 (about half the deletions here). A deletion now takes the memory-writes
lock exclusive after its data locks, as a forget does: it waits for the remembers under
way and the next wait for it; none fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx

ROUNDS = 12
R = "/api/v1/memory/remember"


def memory(i: int) -> dict[str, Any]:
    return {
        "content": f"Acme prefers calls on Tuesday mornings {uuid.uuid4().hex[:6]}",
        "client_id": 7,
        "salience_score": 0.9,
        "metadata": {
            "subject_type": "client",
            "subject_id": "7",
            "fact_type": "preference",
            "category": f"calls-{i % 3}",
        },
    }


async def remembered(api: httpx.AsyncClient, i: int) -> dict[str, Any]:
    r = await api.post(R, json=memory(i))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def deletions_beside_remembers(api: httpx.AsyncClient, what: str) -> Counter[str]:
    """Each round one memory (`event`) or its fact (`fact`) deleted beside 3 remembers."""
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def call(name: str, request: Any) -> None:
        r = await request
        statuses[f"{name} {r.status_code}"] += 1
        if r.status_code >= 400:
            problems.append(r.text)

    for n in range(ROUNDS):
        old = await remembered(api, n)
        target = old["id"] if what == "event" else old["promoted_to_fact_id"]
        assert target is not None, old
        await asyncio.gather(
            *(call("remember", api.post(R, json=memory(n * 3 + k))) for k in range(3)),
            call("delete", api.delete(f"/api/v1/memory/{what}s/{target}")),
        )
    assert not problems, problems[:3]
    return statuses


async def test_deleting_a_memory_while_remembering_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    statuses = await deletions_beside_remembers(committed_client, "event")
    assert statuses == {"remember 201": 3 * ROUNDS, "delete 200": ROUNDS}


async def test_deleting_a_fact_while_remembering_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    statuses = await deletions_beside_remembers(committed_client, "fact")
    assert statuses == {"remember 201": 3 * ROUNDS, "delete 200": ROUNDS}
