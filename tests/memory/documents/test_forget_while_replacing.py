"""Forgetting a client while its documents are uploaded, new ones and the same again.

A forget deletes the client's documents, whose chunks' words it takes out of the search
statistics; an upload under way wrote those statistics in the other order, and Postgres
broke the cycle by failing one of them: a 503 (7 to 10 of 144 uploads). An upload now waits
for a forget under way, and a forget for the uploads already writing. And an upload that
read the stored document before a forget deleted it updated it after: the update matched no
row, a 500 (StaleDataError) in each run here. It now stores the document anew from what was
given, whether its bytes changed or only its tags.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

ROUNDS = 40
D = "/api/v1/memory/documents"


async def test_replacing_uploads_and_forgets_of_one_client_at_once_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    statuses: Counter[str] = Counter()
    problems: list[str] = []

    async def upload(i: int, name: str = "proposal.md") -> None:
        body = (
            f"# Proposal {i}\n\n## Scope\n\nAcme onboarding audit {uuid.uuid4().hex[:8]}, "
            "twelve weeks of marketing operations.\n\n## Fee\n\nThe fee is 18,500 euros.\n"
        )
        files = {"file": (name, body.encode())}
        r = await committed_client.post(D, files=files, data={"client_id": "7"})
        statuses[f"upload {r.status_code}"] += 1
        if r.status_code not in (200, 201):
            problems.append(r.text)

    fixed = b"# Fixed\n\nThe same text each time.\n"

    async def meta(i: int) -> None:
        files = {"file": ("fixed.md", fixed)}
        r = await committed_client.post(D, files=files, data={"client_id": "7", "tags": f"t{i}"})
        statuses[f"upload {r.status_code}"] += 1
        if r.status_code not in (200, 201):
            problems.append(r.text)

    async def forget() -> None:
        r = await committed_client.delete("/api/v1/memory/subjects/client/7")
        statuses[f"forget {r.status_code}"] += 1
        if r.status_code != 200:
            problems.append(r.text)

    for n in range(ROUNDS):
        await asyncio.gather(
            upload(3 * n),
            upload(3 * n + 1),
            upload(3 * n + 2, f"notes-{n % 4}.md"),
            forget(),
            meta(n),
        )
    failed = {k: v for k, v in statuses.items() if not k.endswith((" 200", " 201"))}
    assert not failed, (failed, problems[:3])
    assert statuses["forget 200"] == ROUNDS
    # Whatever the last round left is whole, and one more forget leaves nothing.
    await committed_client.delete("/api/v1/memory/subjects/client/7")
    listed = await committed_client.get(D, params={"client_id": 7})
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [], listed.text
