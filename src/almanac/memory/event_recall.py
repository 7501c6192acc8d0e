"""Recall over events, signal by signal: the first pass (vector + full text), late
interaction, the graph, the author signal, the episodes, then MMR -- each a fused list or
a pick that the ARCHITECTURE's recall section describes, in the order they run."""

from __future__ import annotations

from almanac.embedder import Embedder
from almanac.memory.author_signal import fuse_members
from almanac.memory.diversity import diversify
from almanac.memory.entities import alias_words
from almanac.memory.episodes import fuse_episodes
from almanac.memory.graph_signal import candidate_nodes
from almanac.memory.linked_search import LinkedSearch, merge
from almanac.memory.rerank import pool_size, rerank
from almanac.memory.search import Hit, SearchRepository, event_scope
from almanac.memory.search_sql import EventFilters


async def recall_events(
    search: SearchRepository,
    embedder: Embedder,
    query: str,
    qvec: list[float],
    k: int,
    filters: EventFilters,
    pool_out: list[Hit] | None = None,
) -> list[Hit]:
    """The best k events for the query under `filters`, best first (`pool_out` gets the
    candidates they were picked from)."""
    cfg = search.settings
    if search.leaves_nothing(event_scope(filters)):  # nor can the graph, under it
        return []
    model, pool = embedder.model, pool_size(k, cfg)
    events = await search.search_events(query, qvec, model, embedder.dim, k, filters, pool)
    scored: dict[int, float] = {}  # late interaction scores by id, for the second rerank
    events = await rerank(embedder, query, events, cfg, scored)
    seeds = [h.id for h in events[: cfg.graph_seed_hits]]
    graph = cfg.graph_weight > 0 or cfg.graph_neighbour_weight > 0
    if graph or cfg.author_weight > 0:
        # The graph's memories and the author list's members in one statement, which also
        # resolves the query's short forms of names.
        linked, members = await LinkedSearch(search).with_members(
            query,
            qvec,
            model,
            filters,
            candidate_nodes(query),
            alias_words(query) if cfg.entity_aliases else (),
            seeds,
            [h.id for h in events] if cfg.author_weight > 0 else (),
        )
        if linked:
            events = await rerank(embedder, query, merge(events, linked)[:pool], cfg, scored)
        if cfg.author_weight > 0 and members:
            events = fuse_members(events, members, cfg)
    events = fuse_episodes(events, cfg)
    if pool_out is not None:
        pool_out.extend(events)
    # MMR's cosines only among the best it picks from, once the author list has moved its
    # members up: reading them with the author list (one round trip fewer) took every
    # member's pairs too, thousands when a query names a frequent speaker.
    return await diversify(search, events, k, model, cfg)
