"""Pseudo-relevance feedback in recall: a second retrieval driven by the first pass's best
hits, measured against recall as configured, BM25 and vector alone, in one run.

Usage: .venv/bin/python bench/recall_feedback.py [--data PATH/26.json] [--only PREFIX ...]

Multi-hop questions need several memories that each share only part of the question; the
second one is often nearer to a first-hop hit than to the question. Each variant is real
recall over the same memories as bench/memory_recall.py, with one more fused list (weight
`w`) added to the statement recall already runs after its first pass (memory.linked_search,
patched here; src is unchanged), driven by the best `hits` hits after late interaction:
"centroid" (Rocchio) searches the query vector (weight `q` against the hits' mean) plus the
hits' vectors, "neighbours" each hit's nearest memories, "terms" (RM3) the hits' `m` most
informative words the query lacks (BM25 IDF times how many hits hold them). The hits
themselves are left out of the list. `almanac` is recall as configured (no feedback).
Reported: recall@10 per category, and recall p50/p95 per variant in ms (in-process, the
variants interleaved question by question so the machine's noise falls on all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_BENCH, median, percentile, print_table, require_files  # noqa: E402
from memory_recall import BM25, ask, ingest, load, open_state, score  # noqa: E402

import almanac.memory.linked_search as linked_search  # noqa: E402
from almanac.cache.local import LocalCache  # noqa: E402
from almanac.db.vector_indexes import EMBEDDINGS, sql_literal, vector_expr  # noqa: E402

K = 10


def _fb(mode: str, w: float, hits: int, q: float = 1.0, m: int = 10) -> dict[str, Any]:
    return {"mode": mode, "w": w, "hits": hits, "q": q, "m": m}


VARIANTS: dict[str, dict[str, Any]] = {
    "almanac": {},
    **{
        f"centroid w{w} hits{k} q{q}": _fb("centroid", w, k, q)
        for w in (0.1, 0.25)
        for k in (3, 5)
        for q in (1.0, 2.0)
    },
    **{f"neighbours w{w} hits3": _fb("neighbours", w, 3) for w in (0.05, 0.1)},
    **{
        f"terms w{w} hits{k} m{m}": _fb("terms", w, k, m=m)
        for w in (0.25, 0.5, 1.0)
        for k in (3, 5, 8)
        for m in (10, 20)
    },
}
# --- The feedback list, patched into recall's graph statement (memory.linked_search) ----
# Nothing in src changes: the statement recall already runs after its first pass (which
# holds the best hits as seeds) gains one more CTE, `fb`, whose parts join the graph's
# fused list, so feedback costs no extra round trip. Values are inlined as literals because
# the patched statement keeps linked_search's own parameters.
FEEDBACK: dict[str, Any] = {}  # the running variant's settings; empty: feedback off
_CALL: dict[str, Any] = {}  # this recall's query, vector and seeds, from with_members
_graph_sql = linked_search._graph_sql
_with_members = linked_search.LinkedSearch.with_members


def _ids(ids: list[int]) -> str:
    return "ARRAY[" + ",".join(str(int(i)) for i in ids) + "]::bigint[]"


def feedback_sql(where: str, model: str, query: str, qvec: list[float], hits: list[int]) -> str:
    """CTE `fb` (id, part): the second retrieval from the best `hits`, by FEEDBACK's mode."""
    emb_table, owner = EMBEDDINGS["events"]
    mode, w, rrf_k, n = FEEDBACK["mode"], float(FEEDBACK["w"]), float(FEEDBACK["rrf_k"]), 100
    dim, model_lit, hit_ids = len(qvec), sql_literal(model), _ids(hits)
    half = f"halfvec({dim})"
    part = f"{w} / ({rrf_k} + row_number() OVER (ORDER BY {{order}}))"

    def scan(target: str) -> str:
        return f"""
        SELECT e.id, {vector_expr(dim, "v")} <=> {target} AS dist
        FROM {emb_table} v JOIN events e ON e.id = v.{owner}
        WHERE v.model = {model_lit} AND {where} AND e.id <> ALL({hit_ids})
        ORDER BY dist LIMIT {n}"""

    src = f"""fb_src AS MATERIALIZED (
    SELECT v.{owner} AS id, v.embedding FROM {emb_table} v
    WHERE v.{owner} = ANY({hit_ids}) AND v.model = {model_lit}
)"""
    if mode == "centroid":  # Rocchio: q weight `q` against the mean of the hits' vectors
        scale = float(FEEDBACK["q"]) * len(hits)
        q = sql_literal("[" + ",".join(f"{x * scale:.7g}" for x in qvec) + "]")
        return f"""{src},
fb_vec AS MATERIALIZED (
    SELECT CAST(sum(x) AS {half}) AS c FROM (
        SELECT CAST({q} AS vector) AS x UNION ALL SELECT embedding FROM fb_src) s
),
fb AS (
    SELECT id, {part.format(order="dist, id")} AS part
    FROM ({scan("(SELECT c FROM fb_vec)")}) y
)"""
    if mode == "neighbours":  # each hit's nearest memories, one list per hit
        return f"""{src},
fb AS (
    SELECT x.id, sum({w} / ({rrf_k} + x.r)) AS part FROM fb_src s, LATERAL (
        SELECT y.id, row_number() OVER (ORDER BY y.dist, y.id) AS r
        FROM ({scan(f"CAST(s.embedding AS {half})")}) y
    ) x
    GROUP BY x.id
)"""
    # RM3: the hits' words the query lacks (each in two memories at least), weighted by how
    # many hits hold them times IDF; the best `m` as a second word query.
    return f"""fb_stats AS (
    SELECT greatest(docs, 1)::float8 AS docs FROM search_stats WHERE kind = 'event'
),
fb_words AS MATERIALIZED (
    SELECT w.lexeme, t.df, count(*) AS tf
    FROM events h, unnest(tsvector_to_array(h.search_tsv)) AS w(lexeme)
    JOIN search_terms t ON t.kind = 'event' AND t.lexeme = w.lexeme AND t.df > 1
    WHERE h.id = ANY({hit_ids}) AND w.lexeme NOT IN (
        SELECT unnest(tsvector_to_array(to_tsvector('english', {sql_literal(query)}))))
    GROUP BY w.lexeme, t.df
),
fb_terms AS MATERIALIZED (
    SELECT CAST(quote_literal(lexeme) AS tsquery) AS q,
           tf * ln(1 + (s.docs - df + 0.5) / (df + 0.5)) AS w
    FROM fb_words, fb_stats s ORDER BY w DESC, lexeme LIMIT {int(FEEDBACK["m"])}
),
fb AS (
    SELECT id, {part.format(order="rank DESC, id")} AS part FROM (
        SELECT e.id, (SELECT sum(t.w) FROM fb_terms t WHERE e.search_tsv @@ t.q) AS rank
        FROM events e
        WHERE e.search_tsv @@ (SELECT CAST(string_agg(CAST(q AS text), ' | ') AS tsquery)
                               FROM fb_terms)
          AND {where} AND e.id <> ALL({hit_ids})
        ORDER BY rank DESC LIMIT {n}
    ) y
)"""


def _patched_graph_sql(where: str, model: str, term_score: str, graph: bool = True) -> str:
    sql = _graph_sql(where, model, term_score, graph)
    if not FEEDBACK or not graph or not _CALL["seeds"]:
        return sql
    hits = _CALL["seeds"][: int(FEEDBACK["hits"])]  # the first pass's best, reranked
    fb = feedback_sql(where, model, _CALL["query"], _CALL["qvec"], hits)
    joined = "        FROM g_near\n        UNION ALL SELECT id, part FROM fb\n    ) p"
    out = sql.replace("\nlinked AS (", f"\n{fb},\nlinked AS (").replace(
        "        FROM g_near\n    ) p", joined
    )
    assert out.count("UNION ALL SELECT id, part FROM fb") == 1 and "\nfb AS (" in out, (
        "memory.linked_search's statement changed: update this bench's patch"
    )
    return out


async def _patched_with_members(
    self: Any, query: str, qvec: list[float], model: str, *args: Any
) -> Any:
    _CALL.update(query=query, qvec=qvec, seeds=list(args[3]))
    return await _with_members(self, query, qvec, model, *args)


linked_search._graph_sql = _patched_graph_sql  # type: ignore[assignment]
linked_search.LinkedSearch.with_members = _patched_with_members  # type: ignore[method-assign]


async def run(path: Path, only: list[str]) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    texts = [t.text for t in turns]
    variants = {
        n: v
        for n, v in VARIANTS.items()
        if not only or n == "almanac" or any(n.startswith(o) for o in only)
    }
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await open_state(Path(tmp), None)
        try:
            session, _ = await ingest(state, conv_id, turns)
            ranked: dict[str, list[list[str]]] = {n: [] for n in variants}
            ms: dict[str, list[float]] = {n: [] for n in variants}
            # Interleaved per question, so that the machine's noise falls on every variant.
            for q in questions:
                for name, change in variants.items():
                    FEEDBACK.clear()
                    if change:
                        FEEDBACK.update(change, rrf_k=state.settings.search.rrf_k)
                    ids, took = await ask(state, state.settings, LocalCache(), session, q.text, K)
                    ms[name].append(took)
                    ranked[name].append(ids)
            doc_vecs = await state.embedder.embed(texts)
            q_vecs = await state.embedder.embed([q.text for q in questions])
        finally:
            await state.close()
    sims = q_vecs @ doc_vecs.T
    ranked["vector"] = [
        [turns[j].dia_id for j in np.argsort(-row, kind="stable")[:K]] for row in sims
    ]
    bm25 = BM25(texts)
    ranked["bm25"] = [[turns[j].dia_id for j in bm25.rank(q.text, K)] for q in questions]
    return {
        "conversation": conv_id,
        "systems": {n: score(r, questions) for n, r in ranked.items()},
        "latency": {n: (median(v), percentile(v, 95)) for n, v in ms.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    parser.add_argument(
        "--only", nargs="*", default=[], help="variant names, or their prefixes, to run"
    )
    args = parser.parse_args()
    require_files(parser, [args.data])
    result = asyncio.run(run(args.data, args.only))
    systems = result["systems"]
    groups = ["overall", "multi-hop", "temporal", "open-domain", "single-hop"]
    rows = [
        (
            name,
            *(f"{s[g]['recall@10']:.3f}" if g in s else "-" for g in groups),
            *(f"{x:.1f}" for x in result["latency"].get(name, (float("nan"),) * 2)),
        )
        for name, s in systems.items()
    ]
    print_table(
        f"LoCoMo {result['conversation']}: recall@10 with pseudo-relevance feedback",
        ["system", *groups, "p50 ms", "p95 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
