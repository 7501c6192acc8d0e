"""Processes starting together create the vector indexes without racing each other."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.db.engine import create_engine
from almanac.db.vector_indexes import ensure_indexes, index_name
from almanac.embedder import Embedder


async def test_concurrent_starts_create_the_indexes_once(
    pg_url: str, engine: AsyncEngine, embedder: Embedder
) -> None:
    # Separate engines, as two processes would have; a fresh model name each round, so the
    # indexes really are created concurrently.
    engines = [create_engine(pg_url, pool_size=1) for _ in range(6)]
    try:
        for round_ in range(8):
            model = f"race-model-{round_}"
            await asyncio.gather(*(ensure_indexes(e, model, 8) for e in engines))
            async with engine.connect() as conn:
                names = set(
                    (await conn.execute(text("SELECT indexname FROM pg_indexes"))).scalars()
                )
            assert index_name("event_embeddings", model) in names
            assert index_name("fact_embeddings", model) in names
    finally:
        for e in engines:
            await e.dispose()
        # Put back the configured model's indexes (the last round dropped them as stale).
        await ensure_indexes(engine, embedder.model, embedder.dim)
