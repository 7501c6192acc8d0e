"""Concurrent batches sharing idempotency keys in different orders: one answer, no 500."""

from __future__ import annotations

import asyncio
import random
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from almanac.models import Event
from almanac.state import AppState

R = "/api/v1/memory/remember/batch"


async def test_batches_sharing_keys_in_other_orders_all_store_once(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    """Two syncs (or a retry that reorders) sending overlapping keys in different orders
    waited on each other's inserts, one of them while holding the search statistics the
    other waited for: Postgres broke the deadlock by failing one batch, a 500."""
    rng = random.Random(7)
    for round_ in range(3):
        items = [
            {"content": f"synced memory {i}", "idempotency_key": f"sync-{round_}-{i}"}
            for i in range(200)
        ]
        orders = [items, items[::-1], *(rng.sample(items, len(items)) for _ in range(4))]
        answers = await asyncio.gather(
            *(committed_client.post(R, json={"items": o}) for o in orders)
        )
        # 200 for a batch every item of which another stored first.
        assert [a.status_code for a in answers] == [
            200 if a.status_code == 200 and len(a.json()["duplicates"]) == len(items) else 201
            for a in answers
        ], [a.text[:200] for a in answers if a.status_code not in (200, 201)]
        ids = [
            dict(zip((i["idempotency_key"] for i in o), a.json()["ids"], strict=True))
            for o, a in zip(orders, answers, strict=True)
        ]
        assert all(m == ids[0] for m in ids)
    async with committed_state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 600


async def test_a_batch_waits_for_no_other_batchs_embedding(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The keys' locks were taken before embedding: a batch held up by a slow (remote)
    embedder held every batch whose keys shared one of its 64 buckets, any keys at all."""
    embedder = committed_state.embedder
    real = embedder.embed
    entered, gate = asyncio.Event(), asyncio.Event()

    async def embed(texts: list[str]) -> Any:
        if any("slow" in t for t in texts):
            entered.set()
            await gate.wait()
        return await real(texts)

    monkeypatch.setattr(embedder, "embed", embed)

    def bucket(key: str) -> int:
        return zlib.crc32(key.encode()) % 64

    other = next(f"quick-{i}" for i in range(10_000) if bucket(f"quick-{i}") == bucket("slow-0"))
    slow = asyncio.create_task(
        committed_client.post(
            R, json={"items": [{"content": "slow memo", "idempotency_key": "slow-0"}]}
        )
    )
    try:
        await asyncio.wait_for(entered.wait(), 30)
        quick = await asyncio.wait_for(
            committed_client.post(
                R, json={"items": [{"content": "quick memo", "idempotency_key": other}]}
            ),
            30,
        )
        assert quick.status_code == 201, quick.text
        assert not slow.done()
    finally:
        gate.set()
    assert (await slow).status_code == 201
