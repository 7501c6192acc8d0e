"""Recall's Postgres answer: each requested kind searched (events through every signal,
memory.event_recall; facts and document chunks through the first pass, late interaction
and MMR), merged (`merge_kinds`), floored (memory.relevance) and shaped for the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from almanac.config import SearchSettings
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


class LocalAnswer(NamedTuple):
    """The best hits as found and as the API shows them, and how many candidates there
    were before the floor and the cut to k (none: nothing is stored within the filters)."""

    top: list[Hit]
    hits: list[RecallHit]
    candidates: int


async def local_recall(
    search: SearchRepository,
    embedder: Embedder,
    q: RecallQuery,
    kinds: set[str],
) -> LocalAnswer:
    """The best q.k hits over `kinds` (as found, and as the API shows them)."""
    search.forget_terms()
    qvec = [float(x) for x in await embedder.embed_query(q.query)]
    found: list[Hit] = []
    model, dim = embedder.model, embedder.dim
    cfg = search.settings
    pool = pool_size(q.k, cfg)
    # One "now" for every kind's validity and expiry, by the app's clock: the clock that
    # stamped what was just written (a fact's valid_from), which the database's may trail.
    now = datetime.now(UTC)
    at = q.as_of or now
    filters = EventFilters(
        q.session_id,
        q.client_id,
        q.memory_scope,
        q.event_type,
        q.since,
        q.until,
        q.for_client,
        now,
    )
    scopes: list[Scope] = []
    if "event" in kinds:
        scopes.append(event_scope(filters))
    if "fact" in kinds:
        scopes.append(fact_scope(q.client_id, at, q.for_client, q.since, q.until))
    if "document" in kinds:
        scopes.append(chunk_scope(q.client_id, q.for_client, q.since, q.until))
    await search.begin(q.query, scopes)
    # Every kind's candidates before late interaction's and MMR's picks cut them to k:
    # whether anything stored reaches the floor is asked of them, not of the k shown.
    pools: list[Hit] = []
    if "event" in kinds:
        found += await recall_events(search, embedder, q.query, qvec, q.k, filters, pools)
    if "fact" in kinds:
        facts = await search.search_facts(
            q.query,
            qvec,
            model,
            dim,
            q.k,
            q.client_id,
            at,
            q.for_client,
            pool,
            q.since,
            q.until,
        )
        facts = await rerank(embedder, q.query, facts, cfg)
        pools += facts
        found += await diversify(search, facts, q.k, model, cfg)
    if "document" in kinds:
        chunks = await search.search_chunks(
            q.query, qvec, model, dim, q.k, q.client_id, pool, q.for_client, q.since, q.until
        )
        chunks = await rerank(embedder, q.query, chunks, cfg)
        pools += chunks
        found += await diversify(search, chunks, q.k, model, cfg)
    # A promoted fact says what its source event said: show the durable fact once.
    promoted = {h.source_event_id for h in found if h.source_event_id is not None}
    found = [h for h in found if not (h.kind == "event" and h.id in promoted)]
    scored = Relevances(cfg)
    found = merge_kinds(found, lambda h: scored(h) >= FLOOR)
    top = found[: q.k]
    relevances = [scored(h) for h in top]
    if cfg.relevance_floor and q.floor and no_match(relevances) and scored.none_reach(pools):
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
    return LocalAnswer(top, hits, len(pools))


class Relevances:
    """Hits' relevances by kind and id, each computed once (for the merge, for the hits
    shown, and for the floor's question about every candidate, which reuses theirs)."""

    def __init__(self, s: SearchSettings) -> None:
        self.s = s
        self._by: dict[tuple[str, int], float] = {}

    def __call__(self, h: Hit) -> float:
        key = (h.kind, h.id)
        if key not in self._by:
            self._by[key] = relevance(h.similarity, h.coverage, h.runner_up, self.s)
        return self._by[key]

    def none_reach(self, candidates: list[Hit]) -> bool:
        """Whether no candidate reaches the floor. Asked of the candidates, not of the k
        shown: late interaction and MMR pick which k to show, not whether anything stored
        is about the query; asked of the k, a document chunk that reached the floor but was
        reordered below k turned an answerable question into "no match"
        (bench/documents_bench.py)."""
        return not any(self(h) >= FLOOR for h in candidates)


def merge_kinds(found: list[Hit], reaches: Callable[[Hit], bool]) -> list[Hit]:
    """The kinds' hits in one list: each kind's by score, merged taking next the kind whose
    next hit reaches the floor, else the higher score. Merged by score alone (the kinds'
    fused scores do not compare: events gather more fused lists than chunks and facts),
    a chunk answering the question fell behind unrelated memories, out of a small k, and
    the answer was "no match"; one kind's order is its score order, as before."""
    lists: dict[str, list[Hit]] = {}
    for h in sorted(found, key=lambda h: h.score, reverse=True):
        lists.setdefault(h.kind, []).append(h)
    heads = {kind: 0 for kind in lists}
    merged: list[Hit] = []
    while len(merged) < len(found):
        kind = max(
            (kind for kind in lists if heads[kind] < len(lists[kind])),
            key=lambda kind: (reaches(lists[kind][heads[kind]]), lists[kind][heads[kind]].score),
        )
        merged.append(lists[kind][heads[kind]])
        heads[kind] += 1
    return merged
