"""Recall's graph signal: memories linked to the entities a query names, and to the
entities next to those in the graph, as more ranked lists in the fusion.

Remember links each new memory to the entity nodes it names (memory.entities). Recall
then, after its first pass:

1. looks up which runs of the query's words are entity nodes -- the query's entities --
   and keeps the selective ones (linked to at most `entity_share` of all memories);
2. takes the best first-pass hits (`graph_seed_hits`) -- those linked to a selective
   query entity when the query names one -- and collects the other selective entities
   they are linked to: the query's entities' neighbours, reached through a memory that
   mentions both (the co-mention edge);
3. runs the fusion again with two more lists, each ranked by cosine within recall's own
   filter: memories linked to the query's entities (`graph_weight`) and memories linked
   to their neighbours (`graph_neighbour_weight`).

A multi-hop question ("which book did Melanie read on Caroline's advice?") needs a second
memory that shares an entity with the first rather than words with the question; step 3
is how it gets into the candidates. Nothing here knows a name, a speaker or a question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from almanac.config import SearchSettings
from almanac.memory.entities import extract, node_id, query_names, resolve
from almanac.memory.entity_links import EntityLinkRepository

if TYPE_CHECKING:
    from almanac.memory.search import Hit

# Bounds on one recall's graph work, whatever the query or the graph holds.
MAX_LIST_NODES = 20


async def link_memories(links: EntityLinkRepository, memories: Sequence[tuple[int, str]]) -> int:
    """Link each (event id, content) to the entities it names; returns the links made."""
    found = [extract(content) for _, content in memories]
    initial_only = {n for names in found for n, role in names.items() if role == "initial"}
    known = await links.known(sorted(initial_only))
    rows = [
        (event_id, name, role)
        for (event_id, _), names in zip(memories, resolve(found, known), strict=True)
        for name, role in names.items()
    ]
    await links.link(rows)
    return len(rows)


async def graph_lists(
    links: EntityLinkRepository, query: str, hits: Sequence[Hit], s: SearchSettings
) -> list[tuple[list[str], float]]:
    """The extra (entity nodes, weight) lists for this query, or [] when the graph has
    nothing to add (no entity, or only entities too common to point anywhere)."""
    if s.graph_weight <= 0 and s.graph_neighbour_weight <= 0:
        return []
    named = await links.counts([node_id(n) for n in query_names(query)], s.entity_share)
    selective = sorted(n for n, ok in named.items() if ok)
    top = [h for h in hits[: s.graph_seed_hits] if h.kind == "event"]
    linked = await links.of_events([h.id for h in top])
    if selective:
        seeds = [h for h in top if set(linked.get(h.id, ())) & set(selective)]
    else:
        seeds = top
    near = {n for h in seeds for n in linked.get(h.id, ()) if n not in named}
    neighbours = await links.counts(sorted(near), s.entity_share)
    lists: list[tuple[list[str], float]] = []
    if selective and s.graph_weight > 0:
        lists.append((selective[:MAX_LIST_NODES], s.graph_weight))
    chosen = sorted(n for n, ok in neighbours.items() if ok)
    if chosen and s.graph_neighbour_weight > 0:
        lists.append((chosen[:MAX_LIST_NODES], s.graph_neighbour_weight))
    return lists
