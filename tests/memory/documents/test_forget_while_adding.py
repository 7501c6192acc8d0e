"""Forgetting a client while its documents are added.

A forget deletes the client's documents, whose chunks' words it takes out of the search
statistics; an upload under way wrote those statistics in the other order, and Postgres
broke the cycle by failing one of them: a 503 (1 or 2 of 144 uploads here). An upload now
waits for a forget under way, and a forget for the uploads already writing: none fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

ROUNDS = 72
D = "/api/v1/memory/documents"


async def test_uploads_and_forgets_of_one_client_at_once_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def upload(i: int) -> None:
        body = (
            f"# Proposal {i}\n\n## Scope\n\nAcme onboarding audit {uuid.uuid4().hex[:8]}, "
            "twelve weeks of marketing operations.\n\n## Fee\n\nThe fee is 18,500 euros.\n"
        )
        files = {"file": (f"proposal-{i % 4}.md", body.encode())}
        r = await committed_client.post(D, files=files, data={"client_id": "7"})
        statuses[f"upload {r.status_code}"] += 1
        if r.status_code not in (200, 201):
            problems.append(r.text)

    async def forget() -> None:
        r = await committed_client.delete("/api/v1/memory/subjects/client/7")
        statuses[f"forget {r.status_code}"] += 1
        if r.status_code != 200:
            problems.append(r.text)

    for n in range(ROUNDS):
        await asyncio.gather(upload(2 * n), upload(2 * n + 1), forget())
    failed = {k: v for k, v in statuses.items() if not k.endswith((" 200", " 201"))}
    assert not failed, (failed, problems[:3])
    assert statuses["forget 200"] == ROUNDS
    # Whatever the last round left is whole, and one more forget leaves nothing.
    await committed_client.delete("/api/v1/memory/subjects/client/7")
    listed = await committed_client.get(D, params={"client_id": 7})
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [], listed.text
