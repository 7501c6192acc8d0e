"""Recall's author signal (memory.author_signal) and short forms of names: a query naming a
person finds what that person said, "Mel" stands for "Melanie" -- within recall's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache.local import LocalCache
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.graph_signal import query_nodes
from almanac.memory.schemas import RecallQuery, RememberIn
from almanac.memory.search_sql import NO_FILTER, EventFilters
from almanac.memory.service import MemoryService


def service(session: AsyncSession, embedder: Embedder, settings: Settings, **search: Any) -> Any:
    cfg = settings.model_copy(update={"search": settings.search.model_copy(update=search)})
    return MemoryService(UnitOfWork(session), embedder, LocalCache(), cfg)


async def remember(svc: MemoryService, contents: list[str], **kw: Any) -> list[int]:
    result = await svc.remember_many([RememberIn(content=c, **kw) for c in contents])
    return list(result.ids)


async def ids(svc: MemoryService, query: str, k: int, **kw: Any) -> list[int]:
    out = await svc.recall(RecallQuery(query=query, k=k, kinds=["event"], floor=False, **kw))
    return [h.id for h in out.results]


async def test_a_short_form_stands_for_the_one_name_it_begins(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    await remember(svc, ["Melanie: I painted a lake at sunrise", "Marco: the bus was late"])
    await remember(svc, ["Caroline: I met Carl and Carla at the market"])
    links = EntityLinkRepository(db_session)

    nodes = await query_nodes(links, "What did Mel paint?", NO_FILTER)
    assert "entity:melanie" in nodes
    # "Car" begins three names (caroline, carl, carla): ambiguous, so it stands for none;
    # a short form opening the question is grammar's capital, not a name.
    assert not {"entity:caroline", "entity:carl", "entity:carla"} & set(
        await query_nodes(links, "Which Car did she buy?", NO_FILTER)
    )
    assert "entity:marco" not in await query_nodes(links, "Mar was fun?", NO_FILTER)
    assert "entity:melanie" not in await query_nodes(
        links, "What did Mel paint?", NO_FILTER, aliases=False
    )


async def test_a_short_form_only_stands_for_names_within_the_scope(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    await remember(svc, ["Melanie: the invoice went out"], client_id=2)
    await remember(svc, ["Priya: the kickoff is on Monday"], client_id=1)
    links = EntityLinkRepository(db_session)
    assert "entity:melanie" in await query_nodes(links, "What did Mel send?", NO_FILTER)
    for scope in (EventFilters(client_id=1), EventFilters(for_client=1)):
        assert "entity:melanie" not in await query_nodes(links, "What did Mel send?", scope)
