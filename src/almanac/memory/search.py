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
from almanac.db.vector_indexes import EMBEDDINGS, sql_literal
from almanac.memory.search_sql import (
    NO_FILTER,
    TERM_KINDS,
    TERMS_SQL,
    EventFilters,
    Term,
    boost_params,
    chunk_where,
    event_where,
    fact_where,
    fused_sql,
    prelude_sql,
)


@dataclass(frozen=True)
class Scope:
    """What one kind's search looks at: its table and filter (`where` writes its
    parameters and returns SQL over alias `e`); `narrowed` when it filters beyond validity."""

    table: str
    where: Callable[[dict[str, Any]], str]
    narrowed: bool


def event_scope(f: EventFilters) -> Scope:
    return Scope("events", lambda p: event_where(f, p), f != NO_FILTER)


def fact_scope(
    client_id: int | None,
    at: datetime,
    for_client: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Scope:
    return Scope(
        "facts",
        lambda p: fact_where(client_id, at, p, for_client, since, until),
        any(v is not None for v in (client_id, for_client, since, until)),
    )


def _filter_key(table: str, where: Callable[[dict[str, Any]], str]) -> tuple[str, str]:
    """A filter as it runs: its table, SQL and parameter values (what `begin` counted for)."""
    params: dict[str, Any] = {}
    sql = where(params)
    return table, f"{sql} {sorted(params.items())!r}"


def chunk_scope(
    client_id: int | None,
    for_client: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Scope:
    return Scope(
        "doc_chunks",
        lambda p: chunk_where(client_id, p, for_client, since, until),
        any(v is not None for v in (client_id, for_client, since, until)),
    )


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


class SearchRepository:
    """Runs hybrid recall queries."""

    def __init__(self, session: AsyncSession, settings: SearchSettings) -> None:
        self.session = session
        self.settings = settings
        self._prepared = False
        self._terms: dict[tuple[str, str], tuple[list[Term], float]] = {}
        # Rows each filter leaves, counted by `begin` (up to exact_scan_rows + 1), by
        # `_filter_key`: a search under another filter counts its own.
        self._rows: dict[tuple[str, str], int] = {}

    async def _prepare(self) -> None:
        if self._prepared:
            return
        # Iterative scans keep filtered HNSW searches from returning too few rows.
        await self.session.execute(
            text(f"SET LOCAL hnsw.ef_search = {int(self.settings.hnsw_ef_search)}")
        )
        await self.session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        self._prepared = True

    def forget_terms(self) -> None:
        """Start a new recall: the IDF `terms` remembered belong to the last one."""
        self._terms.clear()
        self._rows.clear()

    async def begin(self, query: str, scopes: list[Scope]) -> None:
        """Read, in one round trip, what the searches of `scopes` need first (the session's
        HNSW settings, the query's terms per kind, the rows each filter leaves), instead of
        two or three statements per kind; a kind whose filter leaves nothing is then not
        searched at all."""
        cap = self.settings.exact_scan_rows
        params: dict[str, Any] = {
            "ef_search": str(int(self.settings.hnsw_ef_search)),
            "qtext": query,
            "share": self.settings.common_term_share,
            "kinds": [TERM_KINDS[sc.table] for sc in scopes],
        }
        counts = []
        for sc in scopes:
            where = sc.where(params)  # same names, same values: one query's filters
            counts.append((sc.table, where, cap + 1 if sc.narrowed and cap > 0 else 1))
        rows = (await self.session.execute(text(prelude_sql(counts)), params)).all()
        self._prepared = True
        for sc in scopes:
            self._rows[_filter_key(sc.table, sc.where)] = int(getattr(rows[0], f"n_{sc.table}"))
            kind = TERM_KINDS[sc.table]
            found = [r for r in rows if r.kind == kind]
            avgdl = float(found[0].avgdl) if found else 1.0
            terms = [Term(r.lexeme, float(r.idf), bool(r.selective), bool(r.known)) for r in found]
            self._terms[(kind, query)] = (terms, avgdl)

    def leaves_nothing(self, scope: Scope) -> bool:
        """Whether `begin` found no row under `scope`'s filter."""
        return self._rows.get(_filter_key(scope.table, scope.where)) == 0

    async def terms(self, kind: str, query: str) -> tuple[list[Term], float]:
        """The query's indexed words with their IDF, and the average document length
        (asked once per recall: the graph signal reuses the first pass's; see forget_terms)."""
        key = (kind, query)
        if key in self._terms:
            return self._terms[key]
        rows = await self.session.execute(
            text(TERMS_SQL),
            {"kind": kind, "qtext": query, "share": self.settings.common_term_share},
        )
        found = rows.all()
        avgdl = float(found[0].avgdl) if found else 1.0
        terms = [Term(r.lexeme, float(r.idf), bool(r.selective), bool(r.known)) for r in found]
        self._terms[key] = (terms, avgdl)
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
        counted = self._rows.get(_filter_key(table, where))
        if counted == 0:
            return []
        await self._prepare()
        terms, avgdl = await self.terms(TERM_KINDS[table], query)
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
            **boost_params(s),
        }
        where_sql = where(params)
        if counted is not None:
            exact = narrowed and 0 < s.exact_scan_rows and counted <= s.exact_scan_rows
        else:
            exact = narrowed and await self._few(table, where_sql, params)
        sql = fused_sql(table, where_sql, model, dim, s, terms, params, exact=exact)
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

    async def lexemes(self, texts: list[str]) -> list[set[str]]:
        """The words of each text as full-text search indexes them (for text held
        elsewhere: a provider's results)."""
        if not texts:
            return []
        rows = await self.session.execute(
            text(
                "SELECT u.i, tsvector_to_array(to_tsvector('english', u.t)) AS words "
                "FROM unnest(CAST(:texts AS text[])) WITH ORDINALITY AS u(t, i) ORDER BY u.i"
            ),
            {"texts": texts},
        )
        return [set(r.words or ()) for r in rows]

    async def similarities(
        self, table: str, ids: list[int], model: str
    ) -> dict[tuple[int, int], float]:
        """Cosine similarity of every pair of these rows' stored vectors (a < b)."""
        if len(ids) < 2:
            return {}
        emb_table, owner = EMBEDDINGS[table]
        rows = await self.session.execute(
            text(
                f"WITH v AS MATERIALIZED (SELECT {owner} AS id, embedding FROM {emb_table} "
                f"WHERE model = {sql_literal(model)} AND {owner} = ANY(CAST(:ids AS bigint[]))) "
                # One row of three arrays: 435 pairs decode faster than 435 rows.
                "SELECT array_agg(a.id) AS a, array_agg(b.id) AS b, "
                "array_agg(1 - (a.embedding <=> b.embedding)) AS sim "
                "FROM v a JOIN v b ON a.id < b.id"
            ),
            {"ids": ids},
        )
        row = rows.one()
        if row.a is None:
            return {}
        return {(a, b): float(x) for a, b, x in zip(row.a, row.b, row.sim, strict=True)}

    async def _few(self, table: str, where: str, params: dict[str, Any]) -> bool:
        """Whether a filter leaves few enough rows to rank them exactly. Only counted here:
        the ranking selects the ids itself (shipping 5,000 ids out and back cost ~4 ms)."""
        cap = self.settings.exact_scan_rows
        if cap <= 0:
            return False
        found = await self.session.execute(
            text(
                f"SELECT count(*) FROM (SELECT 1 FROM {table} e WHERE {where} "
                f"LIMIT {int(cap) + 1}) s"
            ),
            params,
        )
        return int(found.scalar_one()) <= cap

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
            event_scope(f).where,
            event_scope(f).narrowed,
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
        at: datetime,
        for_client: int | None = None,
        pool: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Hit]:
        """Top-k (or `pool`) facts valid `at` (the recall's now or `as_of`) by fused score;
        with a window, those that became valid within it."""
        scope = fact_scope(client_id, at, for_client, since, until)
        rows = await self._search(
            "facts", query, qvec, model, dim, k, scope.where, scope.narrowed, pool
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
        for_client: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Hit]:
        """Top-k (or `pool`) document chunks by fused score; metadata is the citation."""
        scope = chunk_scope(client_id, for_client, since, until)
        rows = await self._search(
            "doc_chunks",
            query,
            qvec,
            model,
            dim,
            k,
            scope.where,
            scope.narrowed,
            pool,
        )
        return [
            Hit(r.id, "document", r.content, float(r.score), r.at, None, r.metadata, None, **ev)
            for r, ev in rows
        ]
