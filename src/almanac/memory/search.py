"""Hybrid recall in one SQL statement per kind: pgvector HNSW + full-text, fused by RRF.

The vector column is dimension-free so the model can change; each model gets its own
partial HNSW index on `embedding::halfvec(dim)`, created on demand, and queries repeat
that expression and predicate literally so the planner can use the index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import SearchSettings
from almanac.db.vector_indexes import EMBEDDINGS, sql_literal, vector_expr


@dataclass(frozen=True)
class EventFilters:
    session_id: str | None = None
    client_id: int | None = None
    memory_scope: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    for_client: int | None = None


NO_FILTER = EventFilters()


def client_scope(alias: str, kind: str, for_client: int, params: dict[str, Any]) -> str:
    """Rows a plan or recall for `for_client` may see: that client's and the user's own.

    A row belongs to another client by its `client_id`, or by naming a client as its
    subject (facts' columns, events' metadata) -- memories tagged only that way too.
    """
    params["for_client"] = for_client
    params["for_client_text"] = str(for_client)
    if kind == "events":
        subject_type = f"{alias}.metadata->>'subject_type'"
        subject_id = f"{alias}.metadata->>'subject_id'"
    else:
        subject_type, subject_id = f"{alias}.subject_type", f"{alias}.subject_id"
    return (
        f"({alias}.client_id IS NULL OR {alias}.client_id = :for_client) AND NOT "
        f"({subject_type} IS NOT DISTINCT FROM 'client' "
        f"AND {subject_id} IS DISTINCT FROM :for_client_text)"
    )


@dataclass(frozen=True)
class Term:
    """A query word as Postgres indexes it, with its BM25 inverse document frequency."""

    lexeme: str
    idf: float
    # Rare enough to nominate candidates by itself (see SearchSettings.common_term_share).
    selective: bool
    # False for a word no memory of this kind holds: it scores nothing, but still counts
    # against a hit's coverage of the query (see memory.relevance).
    known: bool = True

    @property
    def tsquery(self) -> str:
        escaped = self.lexeme.replace("\\", "\\\\").replace("'", "''")
        return f"'{escaped}'"


_TERMS_SQL = """
WITH stats AS (
    SELECT greatest(docs, 1)::float8 AS docs,
           greatest(total_len::float8 / greatest(docs, 1), 1) AS avgdl
    FROM search_stats WHERE kind = :kind
),
q AS (
    SELECT w.lexeme, t.df
    FROM (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', :qtext))) AS lexeme) w
    LEFT JOIN search_terms t ON t.kind = :kind AND t.lexeme = w.lexeme AND t.df > 0
)
SELECT q.lexeme, ln(1 + (stats.docs - coalesce(q.df, 0) + 0.5) / (coalesce(q.df, 0) + 0.5)) AS idf,
       coalesce(q.df <= greatest(CAST(:share AS float8) * stats.docs, (SELECT min(df) FROM q)),
                false) AS selective,
       q.df IS NOT NULL AS known,
       stats.avgdl
FROM q, stats
ORDER BY q.df NULLS LAST
"""


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
    # For a fact promoted from an event: that event's id.
    source_event_id: int | None = None
    # Evidence that the hit is about the query (memory.relevance turns it into a score):
    # cosine similarity to the query, and the IDF-weighted share of query words it holds.
    similarity: float | None = None
    coverage: float = 0.0
    # The second-nearest memory's cosine: how far this hit stands out from the rest.
    runner_up: float | None = None
    # `score` is `rrf * boost`: the fused rank score and the salience/recency multiplier,
    # kept apart so that a reranker (memory.rerank) can add its own rank to the fusion.
    rrf: float = 0.0
    boost: float = 1.0


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
    if f.for_client is not None:
        clauses.append(client_scope("e", "events", f.for_client, params))
    return " AND ".join(clauses)


def _fact_where(
    client_id: int | None,
    as_of: datetime | None,
    params: dict[str, Any],
    for_client: int | None = None,
) -> str:
    if as_of is None:
        clauses = ["e.valid_to IS NULL", "e.valid_from <= clock_timestamp()"]
    else:
        clauses = ["e.valid_from <= :as_of", "(e.valid_to IS NULL OR e.valid_to > :as_of)"]
        params["as_of"] = as_of
    if client_id is not None:
        clauses.append("e.client_id = :client_id")
        params["client_id"] = client_id
    if for_client is not None:
        clauses.append(client_scope("e", "facts", for_client, params))
    return " AND ".join(clauses)


# Per searched table: its time column, and the SQL for session, expiry, source event and
# salience (documents have none of the memory-only ones; a chunk weighs as a neutral 0.5).
_COLUMNS = {
    "events": ("occurred_at", "e.session_id", "e.expires_at", "NULL::bigint", "e.salience_score"),
    "facts": (
        "valid_from",
        "NULL::varchar",
        "NULL::timestamptz",
        "e.source_event_id",
        "e.salience_score",
    ),
    "doc_chunks": ("created_at", "NULL::varchar", "NULL::timestamptz", "NULL::bigint", "0.5"),
}
_TERM_KINDS = {"events": "event", "facts": "fact", "doc_chunks": "document"}


def _chunk_where(client_id: int | None, params: dict[str, Any]) -> str:
    if client_id is None:
        return "true"
    params["client_id"] = client_id
    return "e.client_id = :client_id"


def _lexical_parts(terms: list[Term], params: dict[str, Any]) -> tuple[str, str]:
    """BM25's per-term weights inlined as constants (a per-row subquery cost 5x more)."""
    selective = [t for t in terms if t.selective]
    if not selective:
        return "0", "false"
    scores = []
    for i, term in enumerate(t for t in terms if t.known):
        params[f"lex{i}"] = term.tsquery
        params[f"idf{i}"] = term.idf
        scores.append(
            f"CASE WHEN e.search_tsv @@ CAST(:lex{i} AS tsquery) "
            f"THEN CAST(:idf{i} AS float8) ELSE 0 END"
        )
    params["candidates"] = " | ".join(t.tsquery for t in selective)
    return " + ".join(scores), "e.search_tsv @@ CAST(:candidates AS tsquery)"


def _nearest_sql(table: str, where: str, model: str, dim: int, exact: bool) -> str:
    """The :n nearest rows: through the HNSW index, or (`exact`) over the ids in :ids.

    The exact ranking reads the stored float32 vectors as they are (casting each row to
    the index's halfvec costs more than the distance); `+ 0` keeps the planner off the
    index."""
    emb_table, owner = EMBEDDINGS[table]
    if exact:
        return f"""
        SELECT v.{owner} AS id, (v.embedding <=> CAST(:qvec AS vector)) + 0 AS dist
        FROM {emb_table} v
        WHERE v.model = {sql_literal(model)} AND v.{owner} = ANY(CAST(:ids AS bigint[]))
        ORDER BY dist
        LIMIT :n"""
    dist = f"{vector_expr(dim, 'v')} <=> CAST(:qvec AS halfvec({int(dim)}))"
    return f"""
        SELECT e.id, {dist} AS dist
        FROM {emb_table} v JOIN {table} e ON e.id = v.{owner}
        WHERE v.model = {sql_literal(model)} AND {where}
        ORDER BY dist
        LIMIT :n"""


# Postgres raises "value out of range: underflow" for exp() below about -745 (a memory
# from 1938 with a 30-day half-life); past 700 half-lives the recency term is 0 anyway.
def _fused_sql(
    table: str,
    where: str,
    model: str,
    dim: int,
    s: SearchSettings,
    terms: list[Term] | None = None,
    params: dict[str, Any] | None = None,
    exact: bool = False,
) -> str:
    params = params if params is not None else {}
    term_score, candidates = _lexical_parts(terms or [], params)
    time_col, session, expires, source_event, salience = _COLUMNS[table]
    emb_table, owner = EMBEDDINGS[table]
    vec_expr = vector_expr(dim, "v")
    return f"""
WITH vec AS (
    SELECT id, dist, row_number() OVER (ORDER BY dist) AS r FROM (
        {_nearest_sql(table, where, model, dim, exact)}
    ) v
),
txt AS (
    SELECT id, row_number() OVER (ORDER BY rank DESC, id DESC) AS r FROM (
        SELECT e.id,
               ({term_score})
               * (CAST(:bm25_k1 AS float8) + 1)
               / (1 + CAST(:bm25_k1 AS float8) * (1 - CAST(:bm25_b AS float8)
                  + CAST(:bm25_b AS float8) * length(e.search_tsv) / CAST(:avgdl AS float8)))
               AS rank
        FROM {table} e
        WHERE {candidates} AND {where}
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
       {session} AS session_id,
       {expires} AS expires_at,
       {source_event} AS source_event_id,
       ({term_score}) AS matched_idf,
       coalesce(
           (SELECT 1 - vec.dist FROM vec WHERE vec.id = e.id),
           (SELECT 1 - ({vec_expr} <=> CAST(:qvec AS halfvec({int(dim)})))
            FROM {emb_table} v WHERE v.{owner} = e.id AND v.model = {sql_literal(model)}
            LIMIT 1)) AS similarity,
       (SELECT 1 - min(dist) FROM vec WHERE r = 2) AS runner_up,
       f.rrf, b.boost, f.rrf * b.boost AS score
FROM fused f JOIN {table} e ON e.id = f.id,
LATERAL (SELECT (1 + CAST(:w_sal AS float8) * {salience})
         * (1 + CAST(:w_rec AS float8) * exp(-least(
                0.693147 * greatest(extract(epoch FROM now() - e.{time_col}), 0)
                / (86400.0 * CAST(:half_life AS float8)), 700))) AS boost) b
ORDER BY score DESC, e.id DESC
LIMIT :pool
"""


class SearchRepository:
    """Runs hybrid recall queries."""

    def __init__(self, session: AsyncSession, settings: SearchSettings) -> None:
        self.session = session
        self.settings = settings
        self._prepared = False

    async def _prepare(self) -> None:
        if self._prepared:
            return
        # Iterative scans keep filtered HNSW searches from returning too few rows.
        await self.session.execute(
            text(f"SET LOCAL hnsw.ef_search = {int(self.settings.hnsw_ef_search)}")
        )
        await self.session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        self._prepared = True

    async def terms(self, kind: str, query: str) -> tuple[list[Term], float]:
        """The query's indexed words with their IDF, and the average document length."""
        rows = await self.session.execute(
            text(_TERMS_SQL),
            {"kind": kind, "qtext": query, "share": self.settings.common_term_share},
        )
        found = rows.all()
        avgdl = float(found[0].avgdl) if found else 1.0
        terms = [Term(r.lexeme, float(r.idf), bool(r.selective), bool(r.known)) for r in found]
        return terms, avgdl

    async def _search(
        self,
        table: str,
        query: str,
        qvec: list[float],
        model: str,
        dim: int,
        k: int,
        where: Callable[[dict[str, Any]], str],
        narrowed: bool = False,
        pool: int | None = None,
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Rows best first, each with its relevance evidence (`Hit` fields).

        `narrowed`: the caller filters (client, session, dates...) beyond validity.
        `pool`: return this many (at least k) for a reranker to reorder."""
        await self._prepare()
        terms, avgdl = await self.terms(_TERM_KINDS[table], query)
        s = self.settings
        params: dict[str, Any] = {
            "qvec": "[" + ",".join(f"{x:.7g}" for x in qvec) + "]",
            "avgdl": avgdl,
            "bm25_k1": s.bm25_k1,
            "bm25_b": s.bm25_b,
            "n": max(s.candidates, k),
            "pool": max(k, pool or 0),
            "rrf_k": s.rrf_k,
            "w_vec": s.vector_weight,
            "w_txt": s.text_weight,
            "w_sal": s.salience_weight,
            "w_rec": s.recency_weight,
            "half_life": s.recency_half_life_days,
        }
        where_sql = where(params)
        ids = await self._few_ids(table, where_sql, params) if narrowed else None
        if ids is not None:
            params["ids"] = ids
        sql = _fused_sql(table, where_sql, model, dim, s, terms, params, exact=ids is not None)
        rows = (await self.session.execute(text(sql), params)).all()
        total = sum(t.idf for t in terms)
        return [
            (
                r,
                {
                    "similarity": None if r.similarity is None else float(r.similarity),
                    "runner_up": None if r.runner_up is None else float(r.runner_up),
                    "coverage": float(r.matched_idf) / total if total > 0 else 0.0,
                    "rrf": float(r.rrf),
                    "boost": float(r.boost),
                },
            )
            for r in rows
        ]

    async def _few_ids(self, table: str, where: str, params: dict[str, Any]) -> list[int] | None:
        """The ids a filter leaves when they are few enough to rank exactly, else None."""
        cap = self.settings.exact_scan_rows
        if cap <= 0:
            return None
        rows = await self.session.execute(
            text(f"SELECT e.id FROM {table} e WHERE {where} LIMIT {int(cap) + 1}"), params
        )
        ids = list(rows.scalars())
        return ids if len(ids) <= cap else None

    async def search_events(
        self,
        query: str,
        qvec: list[float],
        model: str,
        dim: int,
        k: int,
        f: EventFilters,
        pool: int | None = None,
    ) -> list[Hit]:
        """Top-k (or `pool`) events by fused score, filtered in SQL, expired ones excluded."""
        rows = await self._search(
            "events",
            query,
            qvec,
            model,
            dim,
            k,
            lambda p: _event_where(f, p),
            f != NO_FILTER,
            pool,
        )
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
                **evidence,
            )
            for r, evidence in rows
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
        for_client: int | None = None,
        pool: int | None = None,
    ) -> list[Hit]:
        """Top-k (or `pool`) facts valid now (or at `as_of`) by fused score."""
        rows = await self._search(
            "facts",
            query,
            qvec,
            model,
            dim,
            k,
            lambda p: _fact_where(client_id, as_of, p, for_client),
            client_id is not None or for_client is not None,
            pool,
        )
        return [
            Hit(
                r.id,
                "fact",
                r.content,
                float(r.score),
                r.at,
                None,
                r.metadata,
                None,
                r.source_event_id,
                **evidence,
            )
            for r, evidence in rows
        ]

    async def search_chunks(
        self,
        query: str,
        qvec: list[float],
        model: str,
        dim: int,
        k: int,
        client_id: int | None,
        pool: int | None = None,
    ) -> list[Hit]:
        """Top-k (or `pool`) document chunks by fused score; metadata is the citation."""
        rows = await self._search(
            "doc_chunks",
            query,
            qvec,
            model,
            dim,
            k,
            lambda p: _chunk_where(client_id, p),
            client_id is not None,
            pool,
        )
        return [
            Hit(r.id, "document", r.content, float(r.score), r.at, None, r.metadata, None, **ev)
            for r, ev in rows
        ]
