"""The typed lifespan state shared by both services."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from almanac.cache import Cache, build_cache
from almanac.config import Settings
from almanac.db.embedded import EmbeddedPostgres, start_embedded
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.db.migrate import upgrade
from almanac.db.vector_indexes import ensure_indexes
from almanac.embedder import Embedder, build_embedder
from almanac.llm.base import LLMClient

logger = logging.getLogger(__name__)


class Closeable(Protocol):
    async def close(self) -> None: ...


class UsageCounters(Protocol):
    async def flush(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None: ...


@dataclass
class AppState:
    """Everything a request needs that lives as long as the process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    embedder: Embedder
    embedded_pg: EmbeddedPostgres | None = None
    # None when no LLM is configured: features then run deterministically and say so.
    llm: LLMClient | None = None
    # The split Planner's HTTP client for the Memory Gateway: `almanac.memory.client.gateway`.
    memory: Closeable | None = None
    # Which services this process serves ("memory", "planner"), shown by /health.
    services: list[str] = field(default_factory=list)
    # Recent results of probes that cost a remote API call (/health), by probe name.
    probes: dict[str, tuple[float, object]] = field(default_factory=dict)
    # Verified keys, usage counters and the rate limiter: `almanac.auth.runtime.auth_runtime`.
    auth: UsageCounters | None = None
    # Zep Cloud when configured: set by `almanac.memory.external.factory.external_memory`.
    external: Closeable | None = None

    async def close(self) -> None:
        """Release everything, stopping the embedded Postgres last."""
        if self.auth is not None:
            await self.auth.flush(self.sessionmaker)
        if self.llm is not None:
            await self.llm.close()
        if self.memory is not None:
            await self.memory.close()
        if self.external is not None:
            await self.external.close()
        await self.embedder.close()
        await self.cache.close()
        await self.engine.dispose()
        if self.embedded_pg is not None:
            self.embedded_pg.stop()


async def build_state(settings: Settings, *, migrate: bool = True) -> AppState:
    """Start or connect to Postgres, migrate, and build the providers."""
    embedded: EmbeddedPostgres | None = None
    url = settings.effective_database_url
    if url is None:
        embedded = await start_embedded(
            settings.data_dir, shared_buffers_mb=settings.database.embedded_shared_buffers_mb
        )
        url = embedded.url
    db = settings.database
    # Migrations and index builds may run for minutes: their own engine, with no
    # client-side statement limit.
    setup = create_engine(
        url, pool_size=1, echo=db.echo, connect_timeout=db.connect_timeout_seconds
    )
    try:
        if migrate:
            await upgrade(setup)
        embedder = build_embedder(settings.embedder)
        await ensure_indexes(setup, embedder.model, embedder.dim)
    except BaseException:
        await setup.dispose()
        if embedded is not None:
            embedded.stop()
        raise
    await setup.dispose()
    engine = create_engine(
        url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        echo=db.echo,
        connect_timeout=db.connect_timeout_seconds,
        command_timeout=db.command_timeout_seconds,
    )
    cache = build_cache(settings.cache, settings.effective_valkey_url, engine)
    from almanac.llm.factory import build_llm
    from almanac.llm.recorder import DatabaseRecorder
    from almanac.llm.tuning import StoredTuning

    sessionmaker = create_sessionmaker(engine)
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        cache=cache,
        embedder=embedder,
        embedded_pg=embedded,
        llm=build_llm(settings.llm, DatabaseRecorder(sessionmaker), StoredTuning(sessionmaker)),
    )
