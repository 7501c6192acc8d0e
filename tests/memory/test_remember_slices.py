"""A large remember batch is embedded and written in slices, with the answer of one piece."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.embedder import Embedder
from almanac.embedder.base import Vectors
from almanac.memory.service import WRITE_SLICE
from almanac.models import Event, EventEmbedding
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client

R = "/api/v1/memory/remember/batch"


class CountingEmbedder(Embedder):
    """The suite's real embedder, noting how many texts each call embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.model, self.dim = inner, inner.model, inner.dim
        self.calls: list[int] = []

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        return await self.inner.embed(texts)


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture
async def sliced_client(
    state: AppState, counting: CountingEmbedder, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app_in_transaction(replace(state, embedder=counting), db_session)) as c:
        yield c


def items(n: int, prefix: str) -> list[dict[str, object]]:
    return [
        {"content": f"{prefix} memory {i} about client {i % 7}", "idempotency_key": f"{prefix}-{i}"}
        for i in range(n)
    ]


async def events(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


async def test_a_large_batch_is_written_in_slices_with_one_answer(
    sliced_client: httpx.AsyncClient,
    counting: CountingEmbedder,
    embedder: Embedder,
    db_session: AsyncSession,
) -> None:
    batch = items(300, "big")
    # Forty of them (spread over every slice) were stored by an earlier request.
    earlier = batch[::7][:40]
    first = await sliced_client.post(R, json={"items": earlier})
    assert first.status_code == 201, first.text
    stored = dict(zip((i["idempotency_key"] for i in earlier), first.json()["ids"], strict=True))
    counting.calls.clear()

    r = await sliced_client.post(R, json={"items": batch})
    assert r.status_code == 201, r.text
    body = r.json()
    # Only the 260 new memories were embedded, never more than a slice at a time.
    assert sum(counting.calls) == 260 and len(counting.calls) == 3
    assert max(counting.calls) <= WRITE_SLICE
    # One answer in item order: earlier ids at their positions, reported as duplicates.
    ids = body["ids"]
    dup_positions = [p for p, i in enumerate(batch) if i["idempotency_key"] in stored]
    assert body["duplicates"] == dup_positions
    assert [ids[p] for p in dup_positions] == [
        stored[batch[p]["idempotency_key"]] for p in dup_positions
    ]
    new_ids = [ids[p] for p in range(300) if p not in set(dup_positions)]
    assert new_ids == sorted(new_ids) and len(set(ids)) == 300
    # Each row holds its own item's content and vector, across slice boundaries.
    rows = {e.id: e for e in await db_session.scalars(select(Event).where(Event.id.in_(ids)))}
    vectors = {
        v.event_id: np.asarray(v.embedding, dtype=np.float32)
        for v in await db_session.scalars(
            select(EventEmbedding).where(EventEmbedding.event_id.in_(ids))
        )
    }
    expected = await embedder.embed([str(i["content"]) for i in batch])
    for pos, item in enumerate(batch):
        assert rows[ids[pos]].content == item["content"]
        np.testing.assert_allclose(vectors[ids[pos]], expected[pos], atol=1e-6)

    # A retry of the whole batch writes nothing and answers the same ids.
    counting.calls.clear()
    again = await sliced_client.post(R, json={"items": batch})
    assert again.status_code == 200
    assert again.json()["ids"] == ids and again.json()["duplicates"] == list(range(300))
    assert counting.calls == [] and await events(db_session) == 300


async def test_a_conflict_after_the_first_slices_writes_nothing(
    sliced_client: httpx.AsyncClient, counting: CountingEmbedder, db_session: AsyncSession
) -> None:
    assert (await sliced_client.post(R, json={"items": items(1, "old")})).status_code == 201
    batch = items(299, "new") + [{"content": "other words", "idempotency_key": "old-0"}]
    counting.calls.clear()
    r = await sliced_client.post(R, json={"items": batch})
    assert r.status_code == 409, r.text
    # The slices before the conflict were written inside the request's transaction...
    assert sum(counting.calls) == 299 and len(counting.calls) == 3
    # ...which rolled back whole: only the first request's memory is there.
    assert await events(db_session) == 1
