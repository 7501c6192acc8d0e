"""Recall's Postgres answer: each requested kind searched (events through every signal,
memory.event_recall; facts and document chunks through the first pass, late interaction
and MMR), merged by score, floored (memory.relevance) and shaped for the API."""

from __future__ import annotations

from almanac.embedder import Embedder
from almanac.memory.diversity import diversify
from almanac.memory.event_recall import recall_events
from almanac.memory.relevance import FLOOR, no_match, relevance
from almanac.memory.rerank import pool_size, rerank
from almanac.memory.schemas import RecallHit, RecallQuery
from almanac.memory.search import (
    Hit,
    Scope,
    SearchRepository,
    chunk_scope,
    event_scope,
    fact_scope,
)
from almanac.memory.search_sql import EventFilters


async def local_recall(
    search: SearchRepository,
    embedder: Embedder,
    q: RecallQuery,
    kinds: set[str],
) -> tuple[list[Hit], list[RecallHit]]:
    """The best q.k hits over `kinds` (as found, and as the API shows them)."""
    search.forget_terms()
    qvec = [float(x) for x in await embedder.embed_query(q.query)]
    found: list[Hit] = []
    model, dim = embedder.model, embedder.dim
    cfg = search.settings
    pool = pool_size(q.k, cfg)
    filters = EventFilters(
        q.session_id,
        q.client_id,
        q.memory_scope,
        q.event_type,
        q.since,
        q.until,
        q.for_client,
    )
    scopes: list[Scope] = []
    if "event" in kinds:
        scopes.append(event_scope(filters))
    if "fact" in kinds:
        scopes.append(fact_scope(q.client_id, q.as_of, q.for_client))
    if "document" in kinds:
        scopes.append(chunk_scope(q.client_id, q.for_client))
    await search.begin(q.query, scopes)
    if "event" in kinds:
        found += await recall_events(search, embedder, q.query, qvec, q.k, filters)
    if "fact" in kinds:
        facts = await search.search_facts(
            q.query, qvec, model, dim, q.k, q.client_id, q.as_of, q.for_client, pool
        )
        facts = await rerank(embedder, q.query, facts, cfg)
        found += await diversify(search, facts, q.k, model, cfg)
    if "document" in kinds:
        chunks = await search.search_chunks(
            q.query, qvec, model, dim, q.k, q.client_id, pool, q.for_client
        )
        chunks = await rerank(embedder, q.query, chunks, cfg)
        found += await diversify(search, chunks, q.k, model, cfg)
    # A promoted fact says what its source event said: show the durable fact once.
    promoted = {h.source_event_id for h in found if h.source_event_id is not None}
    found = [h for h in found if not (h.kind == "event" and h.id in promoted)]
    found.sort(key=lambda h: h.score, reverse=True)
    scored = {id(h): relevance(h.similarity, h.coverage, h.runner_up, cfg) for h in found}
    # A hit that reaches the floor comes before those that do not, whatever its kind: the
    # kinds' fused scores do not compare (events gather more fused lists than chunks and
    # facts), so a document chunk answering the question fell behind unrelated memories,
    # out of a small k, and the answer was "no match". Stable: score order within each.
    found.sort(key=lambda h: scored[id(h)] >= FLOOR, reverse=True)
    top = found[: q.k]
    relevances = [scored[id(h)] for h in top]
    if cfg.relevance_floor and q.floor and no_match(relevances):
        top, relevances = [], []
    hits = [
        RecallHit(
            id=h.id,
            kind=h.kind,
            content=h.content,
            score=round(h.score, 6),
            source="postgres",
            occurred_at=h.occurred_at,
            session_id=h.session_id,
            metadata=h.metadata,
            relevance=r,
        )
        for h, r in zip(top, relevances, strict=True)
    ]
    return top, hits
