"""Forgetting a client while memories that become its facts are remembered.

The forget deletes the client's memories, then its facts; deleting a fact nulls the link of
a memory remembered (and committed) meanwhile, while another remember under way holds the
words that memory's link touches and waits for the search statistics the forget holds:
Postgres broke the cycle by failing one of them, a 503 (2 to 7 of 96 requests here). A
forget now waits for the remembers under way, and the next wait for it: none fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

ROUNDS = 24


async def test_remembers_and_forgets_of_one_client_at_once_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def remember(i: int) -> None:
        body = {
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
        r = await committed_client.post("/api/v1/memory/remember", json=body)
        statuses[f"remember {r.status_code}"] += 1
        if r.status_code != 201:
            problems.append(r.text)

    async def forget() -> None:
        r = await committed_client.delete("/api/v1/memory/subjects/client/7")
        statuses[f"forget {r.status_code}"] += 1
        if r.status_code != 200:
            problems.append(r.text)

    for n in range(ROUNDS):
        await asyncio.gather(*(remember(n * 3 + k) for k in range(3)), forget())
    assert statuses == {"remember 201": 3 * ROUNDS, "forget 200": ROUNDS}, problems[:3]
    # The last forget ran with the last remembers: whatever it left is whole (each memory
    # with its fact), and one more forget leaves nothing.
    await committed_client.delete("/api/v1/memory/subjects/client/7")
    facts = await committed_client.get("/api/v1/memory/facts", params={"for_client": 7})
    assert facts.status_code == 200 and facts.json() == [], facts.text
