"""The SQL of hybrid recall: filters, full-text terms, the nearest-neighbour and fused
queries, as text for `SearchRepository` (memory.search) to run.

The vector column is dimension-free so the model can change; each model gets its own
partial HNSW index on `embedding::halfvec(dim)`, created on demand, and these queries repeat
that expression and predicate literally so the planner can use the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    # The app's clock when the recall began: what an expiry is compared with, as remember
    # compared it (the database's clock may be behind). Not a filter of its own (`narrowed`
    # compares filters); None for a filter built by hand, which reads the database's clock.
    now: datetime | None = field(default=None, compare=False)


NO_FILTER = EventFilters()


def _subject(alias: str, kind: str) -> tuple[str, str]:
    """The SQL of a row's subject: facts' columns, events' metadata."""
    if kind == "events":
        return f"{alias}.metadata->>'subject_type'", f"{alias}.metadata->>'subject_id'"
    return f"{alias}.subject_type", f"{alias}.subject_id"


def client_scope(alias: str, kind: str, for_client: int, params: dict[str, Any]) -> str:
    """Rows a plan or recall for `for_client` may see: that client's and the user's own.

    A row is whose its `client_id` says; without one, a row naming a client as its
    subject (facts' columns, events' metadata) is that client's. The `client_id` wins, as
    in a fact's slot (`FACT_OWNER_SQL`): client 8's fact about client 7 is client 8's,
    shown to client 8 and never to client 7.
    """
    params["for_client"] = for_client
    params["for_client_text"] = str(for_client)
    subject_type, subject_id = _subject(alias, kind)
    return (
        f"({alias}.client_id = :for_client OR ({alias}.client_id IS NULL AND NOT "
        f"({subject_type} IS NOT DISTINCT FROM 'client' "
        f"AND {subject_id} IS DISTINCT FROM :for_client_text)))"
    )


def client_owned(alias: str, kind: str, client_id: int, params: dict[str, Any]) -> str:
    """Rows that are `client_id`'s, as `client_scope` reads whose a row is: its
    `client_id`, or without one a client subject naming it (a fact about client 7 written
    without a client was never found by a recall of client 7's)."""
    params["client_id"] = client_id
    params["client_id_text"] = str(client_id)
    subject_type, subject_id = _subject(alias, kind)
    return (
        f"({alias}.client_id = :client_id OR ({alias}.client_id IS NULL "
        f"AND {subject_type} = 'client' AND {subject_id} = :client_id_text))"
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


TERMS_SQL = """
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


def prelude_sql(counts: list[tuple[str, str, int]]) -> str:
    """One statement for what each kind's search needs before it runs: the session's
    HNSW settings (`SET LOCAL` as `set_config(..., true)`), the query's words in each of
    `:kinds` with their IDF (as TERMS_SQL, rows ordered by kind), and for each (table,
    where, limit) of `counts` how many rows the filter leaves, counted no further than
    `limit` (column `n_<table>`). One row even when the query holds no indexed word."""
    columns = "".join(
        f", (SELECT count(*) FROM (SELECT 1 FROM {table} e WHERE {where} LIMIT {int(limit)}) c)"
        f" AS n_{table}"
        for table, where, limit in counts
    )
    return f"""
WITH base AS MATERIALIZED (
    SELECT set_config('hnsw.ef_search', :ef_search, true) AS ef,
           set_config('hnsw.iterative_scan', 'relaxed_order', true) AS iterative
           {columns}
),
stats AS (
    SELECT kind, greatest(docs, 1)::float8 AS docs,
           greatest(total_len::float8 / greatest(docs, 1), 1) AS avgdl
    FROM search_stats WHERE kind = ANY(CAST(:kinds AS text[]))
),
w AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', :qtext))) AS lexeme),
q AS (
    SELECT s.kind, w.lexeme, t.df FROM stats s CROSS JOIN w
    LEFT JOIN search_terms t ON t.kind = s.kind AND t.lexeme = w.lexeme AND t.df > 0
),
terms AS (
    SELECT q.kind, q.lexeme, q.df,
           ln(1 + (s.docs - coalesce(q.df, 0) + 0.5) / (coalesce(q.df, 0) + 0.5)) AS idf,
           coalesce(q.df <= greatest(CAST(:share AS float8) * s.docs,
                                     (SELECT min(m.df) FROM q m WHERE m.kind = q.kind)),
                    false) AS selective,
           q.df IS NOT NULL AS known,
           s.avgdl
    FROM q JOIN stats s ON s.kind = q.kind
)
SELECT base.*, terms.kind, terms.lexeme, terms.idf, terms.selective, terms.known, terms.avgdl
FROM base LEFT JOIN terms ON true
ORDER BY terms.kind, terms.df NULLS LAST
"""


def event_where(f: EventFilters, params: dict[str, Any]) -> str:
    if f.now is None:
        clauses = ["(e.expires_at IS NULL OR e.expires_at > clock_timestamp())"]
    else:
        clauses = ["(e.expires_at IS NULL OR e.expires_at > :now)"]
        params["now"] = f.now
    if f.client_id is not None:
        clauses.append(client_owned("e", "events", f.client_id, params))
    for column, value in (
        ("session_id", f.session_id),
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


def window_where(
    column: str, since: datetime | None, until: datetime | None, params: dict[str, Any]
) -> list[str]:
    """A recall's time window on a kind's own time (`column`: what its hits show as
    `occurred_at`)."""
    clauses = []
    if since is not None:
        clauses.append(f"{column} >= :since")
        params["since"] = since
    if until is not None:
        clauses.append(f"{column} <= :until")
        params["until"] = until
    return clauses


def fact_where(
    client_id: int | None,
    at: datetime,
    params: dict[str, Any],
    for_client: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """Facts valid `at` (a recall's `as_of`, or the app's clock when it began: the clock
    that stamped their `valid_from`, as the facts listing compares; the database's may be
    behind, and hid a fact just written); a fact closed at a later date is still true."""
    clauses = ["e.valid_from <= :at", "(e.valid_to IS NULL OR e.valid_to > :at)"]
    params["at"] = at
    if client_id is not None:
        clauses.append(client_owned("e", "facts", client_id, params))
    if for_client is not None:
        clauses.append(client_scope("e", "facts", for_client, params))
    clauses += window_where("e.valid_from", since, until, params)
    return " AND ".join(clauses)


def boost_sql(salience: str, at: str) -> str:
    """A row's boost from its salience and age (SQL expressions `salience`, `at`), with
    `boost_params`' parameters. Salience is read to six decimals, as the API stores it: a
    subnormal one kept from before times its weight underflows, which Postgres raises."""
    return f"""(1 + CAST(:w_sal AS float8) * CAST(round(CAST({salience} AS numeric), 6) AS float8))
         * (1 + CAST(:w_rec AS float8) * exp(-least(
                0.693147 * greatest(extract(epoch FROM now() - {at}), 0)
                / (86400.0 * CAST(:half_life AS float8)), 700)))"""


def boost_params(s: SearchSettings) -> dict[str, float]:
    return {
        "w_sal": s.salience_weight,
        "w_rec": s.recency_weight,
        "half_life": s.recency_half_life_days,
    }


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
TERM_KINDS = {"events": "event", "facts": "fact", "doc_chunks": "document"}


def chunk_where(
    client_id: int | None,
    params: dict[str, Any],
    for_client: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """Document chunks of `client_id`; for `for_client`, that client's and the user's own
    (a document belongs to a client by its `client_id` alone); added within the window."""
    clauses = window_where("e.created_at", since, until, params)
    if client_id is not None:
        clauses.append("e.client_id = :client_id")
        params["client_id"] = client_id
    if for_client is not None:
        clauses.append("(e.client_id IS NULL OR e.client_id = :for_client)")
        params["for_client"] = for_client
    return " AND ".join(clauses) or "true"


def lexical_parts(terms: list[Term], params: dict[str, Any]) -> tuple[str, str]:
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


def nearest_sql(table: str, where: str, model: str, dim: int, exact: bool) -> str:
    """The :n nearest rows: through the HNSW index, or (`exact`) over every row `where`
    leaves (the caller checked they are few).

    The exact ranking reads the stored float32 vectors as they are (casting each row to
    the index's halfvec costs more than the distance); `+ 0` keeps the planner off the
    index, and `ANY(ARRAY(...))` makes the filter's ids one lookup list."""
    emb_table, owner = EMBEDDINGS[table]
    if exact:
        return f"""
        SELECT v.{owner} AS id, (v.embedding <=> CAST(:qvec AS vector)) + 0 AS dist
        FROM {emb_table} v
        WHERE v.model = {sql_literal(model)}
          AND v.{owner} = ANY(ARRAY(SELECT e.id FROM {table} e WHERE {where}))
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
def fused_sql(
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
    term_score, candidates = lexical_parts(terms or [], params)
    time_col, session, expires, source_event, salience = _COLUMNS[table]
    emb_table, owner = EMBEDDINGS[table]
    vec_expr = vector_expr(dim, "v")
    return f"""
WITH vec AS (
    SELECT id, dist, row_number() OVER (ORDER BY dist) AS r FROM (
        {nearest_sql(table, where, model, dim, exact)}
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
LATERAL (SELECT {boost_sql(salience, f"e.{time_col}")} AS boost) b
ORDER BY score DESC, e.id DESC
LIMIT :pool
"""
