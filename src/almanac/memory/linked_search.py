"""The SQL of recall's graph signal (memory.graph_signal), in one statement.

Given the query's candidate names and the first pass's best hits, the statement finds
the query's entities (`named`, entity nodes), keeps the selective ones -- linked to at
most `entity_share` of all memories and `entity_max_links`, counted no further (`picked`) --
takes as seeds the best hits linked to one of them (all the best hits when the query
names none), collects the other selective entities the seeds link to (`near`, the
neighbours), and ranks the memories linked to each list by exact cosine under recall's
own filter. Ranks become reciprocal-rank parts (weights `graph_weight` and
`graph_neighbour_weight`), summed per memory; rows come back with the first pass's
evidence (cosine, share of the query's words, salience and recency boost), so a memory
only the graph found is ranked, floored and shown like any other.

The same statement resolves the query's short forms of names (memory.entity_links'
aliases, joined to the candidate names) and answers the author signal's question -- which
of recall's candidates were said by or are about one of those names -- so that what
follows the first pass is one round trip, not three.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from almanac.config import SearchSettings
from almanac.db.vector_indexes import EMBEDDINGS, sql_literal
from almanac.memory.entities import node_id
from almanac.memory.entity_links import alias_sql
from almanac.memory.search import Hit, SearchRepository
from almanac.memory.search_sql import (
    EventFilters,
    boost_params,
    boost_sql,
    event_where,
    lexical_parts,
)

# Bounds on one recall's graph work, whatever the query or the graph holds.
MAX_LIST_NODES = 20
MAX_LINKED_ROWS = 2000


def _count(node: str) -> str:
    """How many memories link to `node`, counted no further than one past the cap."""
    return (
        f"(SELECT count(*) FROM (SELECT 1 FROM memory_entities c WHERE c.node_id = {node} "
        "LIMIT (SELECT n + 1 FROM cap)) x)"
    )


def _ranked(name: str, nodes: str, where: str, model: str) -> str:
    """The memories linked to `nodes`, nearest first. Their ids are gathered once
    (MATERIALIZED: as an IN subquery the planner re-ran it for every candidate row) and
    each is looked up by key (a LATERAL with LIMIT, which the planner cannot turn back
    into the hash join that read every event)."""
    emb_table, owner = EMBEDDINGS["events"]
    return f"""
{name}_ids AS MATERIALIZED (
    SELECT DISTINCT m.event_id AS id FROM memory_entities m
    WHERE m.node_id IN (SELECT node_id FROM {nodes})
    LIMIT {MAX_LINKED_ROWS}
),
{name} AS (
    SELECT id, row_number() OVER (ORDER BY dist, id) AS r FROM (
        SELECT x.id, x.dist FROM {name}_ids i, LATERAL (
            SELECT e.id, (v.embedding <=> CAST(:qvec AS vector)) + 0 AS dist
            FROM events e
            JOIN {emb_table} v ON v.{owner} = e.id AND v.model = {sql_literal(model)}
            WHERE e.id = i.id AND {where}
            LIMIT 1
        ) x
        ORDER BY x.dist
        LIMIT :n
    ) g
)"""


_NO_LINKS = "linked AS (SELECT NULL::bigint AS id, NULL::float8 AS graph WHERE false)"


def _graph_sql(where: str, model: str, term_score: str, graph: bool = True) -> str:
    """The graph's memories (`graph`: else none) as rows, each row also holding `members`:
    the ids among `:candidates` and the graph's memories linked to a query name as
    speaker or subject. One row with no memory when the graph found none."""
    emb_table, owner = EMBEDDINGS["events"]
    graph_ctes = f"""
cap AS (
    SELECT least(CAST(:max_links AS bigint), greatest(1, floor(CAST(:share AS float8) * coalesce(
        (SELECT docs FROM search_stats WHERE kind = 'event'), 0)))::bigint) AS n
),
named AS MATERIALIZED (
    SELECT g.node_id FROM graph_nodes g
    WHERE g.node_id IN (SELECT node_id FROM names) AND g.node_type = 'entity'
),
picked AS MATERIALIZED (
    SELECT node_id FROM named WHERE {_count("named.node_id")} <= (SELECT n FROM cap)
    ORDER BY node_id LIMIT {MAX_LIST_NODES}
),
seeds AS (
    SELECT h.id FROM unnest(CAST(:hits AS bigint[])) AS h(id)
    WHERE NOT EXISTS (SELECT 1 FROM picked)
       OR EXISTS (SELECT 1 FROM memory_entities m
                  WHERE m.event_id = h.id AND m.node_id IN (SELECT node_id FROM picked))
),
near AS MATERIALIZED (
    SELECT node_id FROM (
        SELECT DISTINCT m.node_id FROM memory_entities m
        WHERE m.event_id IN (SELECT id FROM seeds) AND m.node_id LIKE 'entity:%'
          AND m.node_id NOT IN (SELECT node_id FROM named)
    ) n
    WHERE {_count("n.node_id")} <= (SELECT n FROM cap)
    ORDER BY node_id LIMIT {MAX_LIST_NODES}
),
{_ranked("g_named", "picked", where, model)},
{_ranked("g_near", "near", where, model)},
linked AS (
    SELECT id, sum(part) AS graph FROM (
        SELECT id, CAST(:w_named AS float8) / (CAST(:rrf_k AS float8) + r) AS part
        FROM g_named
        UNION ALL
        SELECT id, CAST(:w_near AS float8) / (CAST(:rrf_k AS float8) + r) AS part
        FROM g_near
    ) p
    GROUP BY id
)"""
    return f"""
WITH aliased AS MATERIALIZED ({alias_sql(where)}),
names AS MATERIALIZED (
    SELECT unnest(CAST(:names AS varchar[])) AS node_id UNION SELECT node_id FROM aliased
),
{graph_ctes if graph else _NO_LINKS},
members AS (
    SELECT ARRAY(
        SELECT DISTINCT m.event_id FROM memory_entities m
        WHERE m.node_id IN (SELECT node_id FROM names) AND m.role IN ('speaker', 'subject')
          AND m.event_id IN (SELECT unnest(CAST(:candidate_ids AS bigint[]))
                             UNION SELECT id FROM linked WHERE graph > 0)
    ) AS ids
)
SELECT members.ids AS members, r.* FROM members LEFT JOIN (
    SELECT e.id, e.content, e.metadata, e.occurred_at AS at, e.session_id, e.expires_at,
           ({term_score}) AS matched_idf,
           (SELECT 1 - (v.embedding <=> CAST(:qvec AS vector)) FROM {emb_table} v
            WHERE v.{owner} = e.id AND v.model = {sql_literal(model)} LIMIT 1) AS similarity,
           l.graph,
           {boost_sql("e.salience_score", "e.occurred_at")} AS boost
    FROM linked l JOIN events e ON e.id = l.id
    WHERE l.graph > 0
) r ON true
"""


class LinkedSearch:
    """Runs the graph signal over events, with the first pass's settings."""

    def __init__(self, search: SearchRepository) -> None:
        self.search = search

    async def with_members(
        self,
        query: str,
        qvec: list[float],
        model: str,
        f: EventFilters,
        node_ids: Sequence[str],
        alias_words: Sequence[str],
        seed_ids: Sequence[int],
        candidates: Sequence[int],
    ) -> tuple[list[Hit], set[int]]:
        """Memories linked to the query's entities (`node_ids`, candidates) and to their
        neighbours among the `seed_ids` hits (none when the graph's weights are 0; `rrf`
        holds the graph's parts only), with the query's short forms (`alias_words`) among
        its names, and the ids among `candidates` and those memories said by or about one
        of the names (memory.author_signal): one statement."""
        s: SearchSettings = self.search.settings
        terms, _ = await self.search.terms("event", query)
        params: dict[str, Any] = {
            "qvec": "[" + ",".join(f"{x:.7g}" for x in qvec) + "]",
            "names": list(node_ids),
            "prefixes": [node_id(w) for w in alias_words],
            "hits": list(seed_ids),
            "candidate_ids": list(candidates),
            "share": s.entity_share,
            "max_links": s.entity_max_links,
            "n": s.candidates,
            "rrf_k": s.rrf_k,
            "w_named": s.graph_weight,
            "w_near": s.graph_neighbour_weight,
            **boost_params(s),
        }
        term_score, _ = lexical_parts(terms, params)
        where = event_where(f, params)
        graph = s.graph_weight > 0 or s.graph_neighbour_weight > 0
        sql = _graph_sql(where, model, term_score, graph)
        rows = (await self.search.session.execute(text(sql), params)).all()
        total = sum(t.idf for t in terms)
        hits = [
            Hit(
                r.id,
                "event",
                r.content,
                float(r.graph) * float(r.boost),
                r.at,
                r.session_id,
                r.metadata,
                r.expires_at,
                similarity=None if r.similarity is None else float(r.similarity),
                coverage=float(r.matched_idf) / total if total > 0 else 0.0,
                rrf=float(r.graph),
                boost=float(r.boost),
            )
            for r in rows
            if r.id is not None
        ]
        return hits, set(rows[0].members or ()) if rows else set()


def merge(first: Sequence[Hit], linked: Sequence[Hit]) -> list[Hit]:
    """The first pass's hits with the graph's parts added to their fused scores, then the
    memories only the graph found (first-pass evidence kept where there is some)."""
    from dataclasses import replace

    extra = {h.id: h for h in linked}
    out = [
        replace(h, rrf=h.rrf + extra[h.id].rrf, score=(h.rrf + extra[h.id].rrf) * h.boost)
        if h.id in extra
        else h
        for h in first
    ]
    seen = {h.id for h in first}
    out += [h for h in linked if h.id not in seen]
    out.sort(key=lambda h: (h.score, h.id), reverse=True)
    return out
