"""The SQL of recall's graph signal: memories linked to entity nodes, ranked by cosine.

Each list of nodes (memory.graph_signal) gives the memories linked to any of them that
recall's filter lets through, nearest to the query first; its ranks become reciprocal-
rank parts with the list's weight, summed per memory. Rows come back with the same
evidence the first pass gives (cosine, share of the query's words, salience and recency
boost), so a memory the graph alone brought in is ranked, floored and shown like any other.
The distances are exact over the linked rows, which selective entities keep few.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from almanac.db.vector_indexes import EMBEDDINGS, sql_literal
from almanac.memory.search import EventFilters, Hit, SearchRepository, _event_where, _lexical_parts

# Linked memories one list ranks, however many its nodes have.
MAX_LINKED_ROWS = 2000


def _linked_sql(lists: int, where: str, model: str, term_score: str) -> str:
    emb_table, owner = EMBEDDINGS["events"]
    ctes, parts = [], []
    for i in range(lists):
        ctes.append(f"""
g{i} AS (
    SELECT id, row_number() OVER (ORDER BY dist, id) AS r FROM (
        SELECT e.id, (v.embedding <=> CAST(:qvec AS vector)) + 0 AS dist
        FROM events e JOIN {emb_table} v ON v.{owner} = e.id AND v.model = {sql_literal(model)}
        WHERE e.id IN (SELECT m.event_id FROM memory_entities m
                       WHERE m.node_id = ANY(CAST(:g{i} AS varchar[])) LIMIT {MAX_LINKED_ROWS})
          AND {where}
        ORDER BY dist
        LIMIT :n
    ) g
)""")
        parts.append(
            f"SELECT id, CAST(:wg{i} AS float8) / (CAST(:rrf_k AS float8) + r) AS part FROM g{i}"
        )
    return f"""
WITH {",".join(ctes)},
linked AS (SELECT id, sum(part) AS graph FROM ({" UNION ALL ".join(parts)}) p GROUP BY id)
SELECT e.id, e.content, e.metadata, e.occurred_at AS at, e.session_id, e.expires_at,
       ({term_score}) AS matched_idf,
       (SELECT 1 - (v.embedding <=> CAST(:qvec AS vector)) FROM {emb_table} v
        WHERE v.{owner} = e.id AND v.model = {sql_literal(model)} LIMIT 1) AS similarity,
       l.graph,
       (1 + CAST(:w_sal AS float8) * e.salience_score)
       * (1 + CAST(:w_rec AS float8) * exp(-least(
              0.693147 * greatest(extract(epoch FROM now() - e.occurred_at), 0)
              / (86400.0 * CAST(:half_life AS float8)), 700))) AS boost
FROM linked l JOIN events e ON e.id = l.id
"""


class LinkedSearch:
    """Runs the graph signal's lists over events, with the first pass's settings."""

    def __init__(self, search: SearchRepository) -> None:
        self.search = search

    async def events(
        self,
        query: str,
        qvec: list[float],
        model: str,
        f: EventFilters,
        lists: Sequence[tuple[Sequence[str], float]],
    ) -> list[Hit]:
        """Memories linked to each list's nodes; `rrf` holds the graph's parts only."""
        if not lists:
            return []
        s = self.search.settings
        terms, _ = await self.search.terms("event", query)
        params: dict[str, Any] = {
            "qvec": "[" + ",".join(f"{x:.7g}" for x in qvec) + "]",
            "n": s.candidates,
            "rrf_k": s.rrf_k,
            "w_sal": s.salience_weight,
            "w_rec": s.recency_weight,
            "half_life": s.recency_half_life_days,
        }
        for i, (nodes, weight) in enumerate(lists):
            params[f"g{i}"], params[f"wg{i}"] = list(nodes), weight
        term_score, _ = _lexical_parts(terms, params)
        where = _event_where(f, params)
        sql = _linked_sql(len(lists), where, model, term_score)
        rows = (await self.search.session.execute(text(sql), params)).all()
        total = sum(t.idf for t in terms)
        return [
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
        ]


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
