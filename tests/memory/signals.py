"""Shared set-up for the recall signal tests: a service with search settings changed, and
short ways to remember and to read back recall's event ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache.local import LocalCache
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.schemas import RecallQuery, RememberIn
from almanac.memory.service import MemoryService


def service(
    session: AsyncSession, embedder: Embedder, settings: Settings, **search: Any
) -> MemoryService:
    """A memory service whose search settings have `search` changed."""
    cfg = settings.model_copy(update={"search": settings.search.model_copy(update=search)})
    return MemoryService(UnitOfWork(session), embedder, LocalCache(), cfg)


async def remember(svc: MemoryService, contents: list[str], **kw: Any) -> list[int]:
    result = await svc.remember_many([RememberIn(content=c, **kw) for c in contents])
    return list(result.ids)


async def ids(svc: MemoryService, query: str, k: int, **kw: Any) -> list[int]:
    """The ids recall returns for events, best first, with no relevance floor."""
    out = await svc.recall(RecallQuery(query=query, k=k, kinds=["event"], floor=False, **kw))
    return [h.id for h in out.results]
