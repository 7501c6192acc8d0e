"""Start-up work for the memory tables that depends on the configured embedder."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.embedder import Embedder
from almanac.memory.search import ensure_vector_indexes


async def ensure_indexes(engine: AsyncEngine, embedder: Embedder) -> None:
    """Create the HNSW indexes for the configured embedding model."""
    async with AsyncSession(engine) as session:
        await ensure_vector_indexes(session, embedder.model, embedder.dim)
        await session.commit()
