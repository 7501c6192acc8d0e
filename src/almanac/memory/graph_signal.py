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
3. ranks two more lists by cosine within recall's own filter -- memories linked to the
   query's entities (`graph_weight`) and memories linked to their neighbours
   (`graph_neighbour_weight`) -- whose reciprocal ranks are added to the first pass's
   fused scores (memories only the graph found join), and late interaction reranks again.

Steps 1-3 are one SQL statement (memory.linked_search); this module links at remember.

A multi-hop question ("which book did Melanie read on Caroline's advice?") needs a second
memory that shares an entity with the first rather than words with the question; step 3
is how it gets into the candidates. Nothing here knows a name, a speaker or a question.
"""

from __future__ import annotations

from collections.abc import Sequence

from almanac.memory.entities import extract, node_id, query_names, resolve
from almanac.memory.entity_links import EntityLinkRepository


async def link_memories(
    links: EntityLinkRepository,
    memories: Sequence[tuple[int, str]],
    clients: Sequence[int | None] | None = None,
) -> int:
    """Link each (event id, content) to the entities it names, and (`clients`, in the same
    order) to the client it belongs to; returns the entity links made."""
    if clients is not None:
        await links.link_clients(
            [(e, c) for (e, _), c in zip(memories, clients, strict=True) if c is not None]
        )
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


def candidate_nodes(query: str) -> list[str]:
    """The node ids the query's word runs would have if they were entities."""
    return [node_id(n) for n in query_names(query)]
