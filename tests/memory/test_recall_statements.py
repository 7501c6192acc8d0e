"""What one recall costs in round trips to Postgres: the kinds' terms, the session's HNSW
settings and the rows each filter leaves are read in one statement before any search; the
graph, short forms of names and the author list in one after the first pass; a kind the
filter leaves empty is not searched at all. And the answers are the same as before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import SearchSettings, Settings
from almanac.embedder import Embedder
from almanac.memory.schemas import RecallQuery
from almanac.memory.search import SearchRepository, event_scope
from almanac.memory.search_sql import EventFilters
from tests.memory.signals import remember, service

TURNS = [
    "Caroline: I went to the LGBTQ support group yesterday and it was powerful",
    "Melanie: I painted a lake at sunrise last week",
    "Caroline: I am keen on counselling, helping people like me",
    "Melanie: we took the kids camping near the lake",
    "Caroline: the adoption agency called me back on Friday",
]


def _statements(session: AsyncSession) -> list[str]:
    seen: list[str] = []

    def record(state: Any) -> None:
        seen.append(str(state.statement))

    event.listen(session.sync_session, "do_orm_execute", record)
    return seen


async def test_one_recall_is_a_handful_of_statements(
    db_session: AsyncSession, embedder: Embedder, settings: Settings
) -> None:
    svc = service(db_session, embedder, settings)
    ids = await remember(svc, TURNS, client_id=4)
    seen = _statements(db_session)
    # Every kind, every signal (graph, short forms, author list, MMR); no fact or document.
    out = await svc.recall(RecallQuery(query="What did Mel paint?", k=3, client_id=4, floor=False))
    assert out.results and out.results[0].id == ids[1]
    # Before: two SETs, then terms, count and search per kind, short forms, graph, author
    # list and MMR: 15. Now: the prelude, the events' search, the graph, MMR's cosines.
    assert len(seen) <= 4, seen
    assert not any("JOIN facts e" in s or "JOIN doc_chunks e" in s for s in seen)


async def test_a_filter_that_leaves_nothing_searches_nothing(
    db_session: AsyncSession, embedder: Embedder, settings: Settings
) -> None:
    svc = service(db_session, embedder, settings)
    await remember(svc, TURNS, client_id=4)
    seen = _statements(db_session)
    out = await svc.recall(RecallQuery(query="What did Melanie paint?", k=3, client_id=5))
    assert out.results == [] and out.no_match
    assert len(seen) == 1, seen  # the prelude found no row under client 5 in any kind


async def test_the_prelude_decides_exact_or_index_as_a_count_would(
    db_session: AsyncSession, embedder: Embedder, settings: Settings
) -> None:
    svc = service(db_session, embedder, settings)
    await remember(svc, TURNS, client_id=4)
    query, f = "counselling and support", EventFilters(client_id=4)
    qvec = [float(x) for x in await embedder.embed_query(query)]
    for cap in (100, 3, 0):
        plain = SearchRepository(db_session, SearchSettings(exact_scan_rows=cap))
        first = SearchRepository(db_session, SearchSettings(exact_scan_rows=cap))
        await first.begin(query, [event_scope(f)])
        a = await plain.search_events(query, qvec, embedder.model, embedder.dim, 5, f)
        b = await first.search_events(query, qvec, embedder.model, embedder.dim, 5, f)
        assert [h.id for h in a] == [h.id for h in b] and len(a) == len(TURNS)
        assert [h.coverage for h in a] == [h.coverage for h in b]


async def test_what_the_prelude_counted_holds_for_its_own_filter_only(
    db_session: AsyncSession, embedder: Embedder, settings: Settings
) -> None:
    svc = service(db_session, embedder, settings)
    await remember(svc, TURNS, client_id=4)
    query = "counselling and support"
    qvec = [float(x) for x in await embedder.embed_query(query)]
    search = SearchRepository(db_session, settings.search)
    await search.begin(query, [event_scope(EventFilters(client_id=5))])  # nothing there
    assert search.leaves_nothing(event_scope(EventFilters(client_id=5)))
    assert not search.leaves_nothing(event_scope(EventFilters(client_id=4)))
    hits = await search.search_events(
        query, qvec, embedder.model, embedder.dim, 5, EventFilters(client_id=4)
    )
    assert len(hits) == len(TURNS)
