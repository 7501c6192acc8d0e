"""Hybrid recall in one SQL statement per kind: pgvector HNSW + full-text, fused by RRF.

The vector column is dimension-free so the model can change; each model gets its own
partial HNSW index on `embedding::vector(dim)`, created on demand, and queries repeat
that expression and predicate literally so the planner can use the index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import SearchSettings

_TABLES = ("events", "facts")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def index_name(table: str, model: str) -> str:
    """A stable, short index name for a table and an embedding model."""
    digest = hashlib.sha1(model.encode()).hexdigest()[:10]
    return f"idx_vec_{table}_{digest}"


async def ensure_vector_indexes(session: AsyncSession, model: str, dim: int) -> None:
    """Create the HNSW indexes for `model` if they are missing."""
    for table in _TABLES:
        await session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {index_name(table, model)} ON {table} "
                f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
                f"WHERE embedding_model = {_literal(model)}"
            )
        )


@dataclass(frozen=True)
class EventFilters:
    session_id: str | None = None
    client_id: int | None = None
    memory_scope: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Hit:
    id: int
    kind: str
    content: str
    score: float
    occurred_at: datetime | None
    session_id: str | None
    metadata: dict[str, Any]
    expires_at: datetime | None


def _event_where(f: EventFilters, params: dict[str, Any]) -> str:
    clauses = ["(e.expires_at IS NULL OR e.expires_at > clock_timestamp())"]
    for column, value in (
        ("session_id", f.session_id),
        ("client_id", f.client_id),
        ("memory_scope", f.memory_scope),
        ("event_type", f.event_type),
    ):
        if value is not None:
            clauses.append(f"e.{column} = :{column}")
            params[column] = value
    if f.since is not None:
        clauses.append("e.occurred_at >= :since")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("e.occurred_at <= :until")
        params["until"] = f.until
    return " AND ".join(clauses)


def _fact_where(client_id: int | None, as_of: datetime | None, params: dict[str, Any]) -> str:
    if as_of is None:
        clauses = ["e.valid_to IS NULL", "e.valid_from <= clock_timestamp()"]
    else:
        clauses = ["e.valid_from <= :as_of", "(e.valid_to IS NULL OR e.valid_to > :as_of)"]
        params["as_of"] = as_of
    if client_id is not None:
        clauses.append("e.client_id = :client_id")
        params["client_id"] = client_id
    return " AND ".join(clauses)


def _fused_sql(table: str, where: str, model: str, dim: int, s: SearchSettings) -> str:
    vec_expr = f"(e.embedding::vector({int(dim)}))"
    kind = "event" if table == "events" else "fact"
    time_col = "occurred_at" if table == "events" else "valid_from"
    return f"""
WITH vec AS (
    SELECT id, row_number() OVER (ORDER BY dist) AS r FROM (
        SELECT e.id, {vec_expr} <=> CAST(:qvec AS vector({int(dim)})) AS dist
        FROM {table} e
        WHERE e.embedding_model = {_literal(model)} AND {where}
        ORDER BY dist
        LIMIT :n
    ) v
),
stats AS (
    SELECT greatest(docs, 1)::float8 AS docs,
           greatest(total_len::float8 / greatest(docs, 1), 1) AS avgdl
    FROM search_stats WHERE kind = '{kind}'
),
qterms AS (
    SELECT t.lexeme, t.df, quote_literal(t.lexeme)::tsquery AS tq,
           ln(1 + (stats.docs - t.df + 0.5) / (t.df + 0.5)) AS idf
    FROM (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', :qtext))) AS lexeme) q
    JOIN search_terms t ON t.kind = '{kind}' AND t.lexeme = q.lexeme AND t.df > 0, stats
),
-- Words in a large share of memories (a speaker's name, "meeting") cannot pick candidates
-- on their own; they still add to the score of candidates found by rarer words.
selective AS (
    SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS tq FROM qterms, stats
    WHERE df <= greatest(CAST(:common_share AS float8) * stats.docs, (SELECT min(df) FROM qterms))
),
txt AS (
    SELECT id, row_number() OVER (ORDER BY rank DESC, id DESC) AS r FROM (
        SELECT e.id,
               (SELECT sum(qt.idf) FROM qterms qt WHERE e.search_tsv @@ qt.tq)
               * (k.k1 + 1)
               / (1 + k.k1 * (1 - k.b + k.b * length(e.search_tsv) / stats.avgdl))
               AS rank
        FROM {table} e, stats,
             (SELECT CAST(:bm25_k1 AS float8) AS k1, CAST(:bm25_b AS float8) AS b) k
        WHERE e.search_tsv @@ (SELECT tq FROM selective) AND {where}
        ORDER BY rank DESC
        LIMIT :n
    ) t
),
fused AS (
    SELECT id, sum(part) AS rrf FROM (
        SELECT id, CAST(:w_vec AS float8) / (CAST(:rrf_k AS float8) + r) AS part FROM vec
        UNION ALL
        SELECT id, CAST(:w_txt AS float8) / (CAST(:rrf_k AS float8) + r) AS part FROM txt
    ) parts
    GROUP BY id
)
SELECT e.id, e.content, e.metadata, e.{time_col} AS at,
       {"e.session_id" if table == "events" else "NULL::varchar"} AS session_id,
       {"e.expires_at" if table == "events" else "NULL::timestamptz"} AS expires_at,
       f.rrf
         * (1 + CAST(:w_sal AS float8) * e.salience_score)
         * (1 + CAST(:w_rec AS float8) * exp(
                -0.693147 * greatest(extract(epoch FROM now() - e.{time_col}), 0)
                / (86400.0 * CAST(:half_life AS float8))))
         AS score
FROM fused f JOIN {table} e ON e.id = f.id
ORDER BY score DESC, e.id DESC
LIMIT :k
"""


class SearchRepository:
    """Runs hybrid recall queries."""

    def __init__(self, session: AsyncSession, settings: SearchSettings) -> None:
        self.session = session
        self.settings = settings

    async def _prepare(self) -> None:
        # Iterative scans keep filtered HNSW searches from returning too few rows.
        await self.session.execute(
            text(f"SET LOCAL hnsw.ef_search = {int(self.settings.hnsw_ef_search)}")
        )
        await self.session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))

    def _params(self, query: str, qvec: list[float], k: int) -> dict[str, Any]:
        s = self.settings
        return {
            "qvec": "[" + ",".join(f"{x:.7g}" for x in qvec) + "]",
            "qtext": query,
            "common_share": s.common_term_share,
            "bm25_k1": s.bm25_k1,
            "bm25_b": s.bm25_b,
            "n": max(s.candidates, k),
            "k": k,
            "rrf_k": s.rrf_k,
            "w_vec": s.vector_weight,
            "w_txt": s.text_weight,
            "w_sal": s.salience_weight,
            "w_rec": s.recency_weight,
            "half_life": s.recency_half_life_days,
        }

    async def search_events(
        self, query: str, qvec: list[float], model: str, dim: int, k: int, f: EventFilters
    ) -> list[Hit]:
        """Top-k events by fused score, filtered in SQL, expired ones excluded."""
        await self._prepare()
        params = self._params(query, qvec, k)
        sql = _fused_sql("events", _event_where(f, params), model, dim, self.settings)
        rows = (await self.session.execute(text(sql), params)).all()
        return [
            Hit(
                r.id,
                "event",
                r.content,
                float(r.score),
                r.at,
                r.session_id,
                r.metadata,
                r.expires_at,
            )
            for r in rows
        ]

    async def search_facts(
        self,
        query: str,
        qvec: list[float],
        model: str,
        dim: int,
        k: int,
        client_id: int | None,
        as_of: datetime | None,
    ) -> list[Hit]:
        """Top-k facts valid now (or at `as_of`) by fused score."""
        await self._prepare()
        params = self._params(query, qvec, k)
        sql = _fused_sql("facts", _fact_where(client_id, as_of, params), model, dim, self.settings)
        rows = (await self.session.execute(text(sql), params)).all()
        return [
            Hit(r.id, "fact", r.content, float(r.score), r.at, None, r.metadata, None) for r in rows
        ]
