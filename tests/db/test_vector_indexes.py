"""Processes starting together create the vector indexes without racing each other."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.db.engine import create_engine
from almanac.db.vector_indexes import ensure_indexes, ensure_vector_indexes, index_name
from almanac.embedder import Embedder


async def _drop_vector_indexes(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        names = (
            await conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'idx\\_vec\\_%'")
            )
        ).scalars()
        for name in list(names):
            await conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))


async def _wait_until_blocked(engine: AsyncEngine, pid: int) -> str:
    """The lock `pid` waits on, once it waits on one (a few seconds at most)."""
    async with engine.connect() as conn:
        for _ in range(200):
            row = (
                await conn.execute(
                    text("SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid=:p"),
                    {"p": pid},
                )
            ).first()
            if row is not None and row[0] == "Lock":
                return str(row[1])
            await asyncio.sleep(0.02)
    raise AssertionError("the second starter never waited on the first")


async def test_a_second_starter_waits_for_the_first_on_a_fresh_database(
    pg_url: str, engine: AsyncEngine, embedder: Embedder
) -> None:
    """The race as two processes meet it on a fresh database, made deterministic: the first
    starter has created its indexes but not committed when the second one starts.

    Without the advisory lock the second's CREATE INDEX IF NOT EXISTS does not see the
    uncommitted index, inserts the same name into pg_class, waits for the first and then
    fails with a unique violation; with the lock it waits before looking and finds the
    indexes made."""
    model = "race-model-fresh"
    first_engine, second_engine = (create_engine(pg_url, pool_size=1) for _ in range(2))
    try:
        await _drop_vector_indexes(engine)  # a fresh database has none to drop either
        async with AsyncSession(first_engine) as first:
            await ensure_vector_indexes(first, model, 8)
            async with second_engine.connect() as probe:
                second_pid = (await probe.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            second = asyncio.create_task(ensure_indexes(second_engine, model, 8))
            waited_on = await _wait_until_blocked(engine, second_pid)
            await first.commit()
        await asyncio.wait_for(second, timeout=30)  # raised IntegrityError without the lock
        assert waited_on == "advisory"
        async with engine.connect() as conn:
            names = set((await conn.execute(text("SELECT indexname FROM pg_indexes"))).scalars())
        assert index_name("event_embeddings", model) in names
        assert index_name("fact_embeddings", model) in names
    finally:
        await first_engine.dispose()
        await second_engine.dispose()
        await ensure_indexes(engine, embedder.model, embedder.dim)


async def test_concurrent_starts_create_the_indexes_once(
    pg_url: str, engine: AsyncEngine, embedder: Embedder
) -> None:
    # Separate engines, as processes would have, each round on a database with no vector
    # index yet (nothing stale to drop, which would serialize them on the table lock).
    engines = [create_engine(pg_url, pool_size=1) for _ in range(6)]
    try:
        for round_ in range(8):
            model = f"race-model-{round_}"
            await _drop_vector_indexes(engine)
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
        # Put back the configured model's indexes (the rounds dropped them).
        await ensure_indexes(engine, embedder.model, embedder.dim)
