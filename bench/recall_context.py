"""Conversation context in recall: the turns said next to the best candidates, as one more
fused signal, measured against recall as configured, BM25 and vector alone, in one run.

Usage: .venv/bin/python bench/recall_context.py [--data PATH/26.json] [--only PREFIX ...]
       .venv/bin/python bench/recall_context.py --lookup-cost

Many gold turns recall misses sit next to a turn it found ("context windows" in RAG). Each
variant is real recall over the same memories as bench/memory_recall.py with one step added
after the episode signal and before MMR (memory.event_recall's `diversify` call, patched
here; src is unchanged). A turn's neighbours are the `window` memories just before and after
it in its episode (same session, same UTC day, ordered by occurred_at then id), read under
recall's own filter, so another client's memory is never a neighbour. The seeds are the best
`seeds` candidates. Modes:

- `share`: each neighbour (a candidate, or a new one with its own first-pass evidence)
  gains `w` times its seed's fused score divided by its distance;
- `rank`: the neighbours, in their seeds' order, are one more reciprocal-rank list (`w`);
- `gated-rank`: as `rank`, but a neighbour that is not already a candidate must hold one
  of the query's words;
- `support-share` / `support-rank`: only neighbours already among the candidates gain;
- `window`: every candidate is ranked by the cosine of the query with its window's mean
  vector (the turn and its neighbours scored together), fused as one more list (`w`);
- `expand` / `expand-rank`: the neighbours join the candidates before late interaction and
  the episode signal rank them again (with `expand-rank` also as a list of weight `w`).

`almanac` is recall as configured. Reported: recall@10 per category, and recall p50/p95 per
variant in ms (in-process, variants interleaved question by question; on ~400 memories,
so not the cost at scale). `--lookup-cost` times the neighbour statement alone (10 seeds)
at 100,000 memories laid out as bench/memory_load.py writes them (50 sessions, one day),
unfiltered and for one client of 8, with the indexes Almanac has, then with a
(session_id, occurred_at, id) index made in the throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SHARED_BENCH,
    median,
    percentile,
    print_table,
    require_files,
    write_json,
)
from memory_recall import chosen, compare, open_state, print_comparison  # noqa: E402
from sqlalchemy import text  # noqa: E402

import almanac.memory.event_recall as event_recall  # noqa: E402
import almanac.memory.local_recall as local_recall  # noqa: E402
from almanac.db.vector_indexes import EMBEDDINGS, sql_literal  # noqa: E402
from almanac.memory.rerank import rerank  # noqa: E402
from almanac.memory.search import Hit, SearchRepository  # noqa: E402
from almanac.memory.search_sql import (  # noqa: E402
    EventFilters,
    boost_params,
    boost_sql,
    event_where,
    lexical_parts,
)

K = 10


@dataclass(frozen=True)
class Variant:
    mode: str
    w: float
    window: int = 1
    seeds: int = 10
    episodes: bool = True


VARIANTS: dict[str, Variant | None] = {
    "almanac": None,
    "share w=0.1 win=1": Variant("share", 0.1),
    "share w=0.25 win=1": Variant("share", 0.25),
    "share w=0.5 win=1": Variant("share", 0.5),
    "share w=0.25 win=2": Variant("share", 0.25, 2),
    "share w=0.5 win=2": Variant("share", 0.5, 2),
    "rank w=0.25 win=1": Variant("rank", 0.25),
    "rank w=0.5 win=1": Variant("rank", 0.5),
    "rank w=1 win=1": Variant("rank", 1.0),
    "rank w=0.5 win=2": Variant("rank", 0.5, 2),
    "rank w=1 win=2": Variant("rank", 1.0, 2),
    "gated-rank w=0.5 win=1": Variant("gated-rank", 0.5),
    "gated-rank w=0.5 win=2": Variant("gated-rank", 0.5, 2),
    "support-share w=0.5 win=1 (30 seeds)": Variant("support-share", 0.5, 1, 30),
    "support-rank w=0.5 win=1 (30 seeds)": Variant("support-rank", 0.5, 1, 30),
    "support-rank w=1 win=2 (30 seeds)": Variant("support-rank", 1.0, 2, 30),
    "window w=0.5 win=1": Variant("window", 0.5),
    "window w=1 win=1": Variant("window", 1.0),
    "window w=0.5 win=2": Variant("window", 0.5, 2),
    "window w=1 win=2": Variant("window", 1.0, 2),
    "expand win=1": Variant("expand", 0.0),
    "expand win=2": Variant("expand", 0.0, 2),
    "expand win=1 (5 seeds)": Variant("expand", 0.0, 1, 5),
    "expand-rank w=0.5 win=1": Variant("expand-rank", 0.5),
    "no episodes": Variant("none", 0.0, episodes=False),
    "no episodes, rank w=0.5 win=1": Variant("rank", 0.5, episodes=False),
    "no episodes, window w=1 win=1": Variant("window", 1.0, episodes=False),
}
_current: Variant | None = None
_query: dict[str, Any] = {}


def _side(where: str, before: bool) -> str:
    """The `:w` memories before (or after) seed `s` in its episode, nearest first (`d`)."""
    op, order = ("<", "DESC") if before else (">", "ASC")
    return f"""(
        SELECT e.id, row_number() OVER (ORDER BY e.occurred_at {order}, e.id {order}) AS d
        FROM events e
        WHERE s.session_id IS NOT NULL AND e.session_id = s.session_id
          AND e.occurred_at >= s.day AND e.occurred_at < s.day + interval '1 day'
          AND (e.occurred_at, e.id) {op} (s.occurred_at, s.id)
          AND {where}
        ORDER BY e.occurred_at {order}, e.id {order}
        LIMIT :w
    )"""


_SEEDS = """
s AS MATERIALIZED (
    SELECT e.id, e.session_id, e.occurred_at, u.r,
           (date_trunc('day', e.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS day
    FROM unnest(CAST(:seeds AS bigint[])) WITH ORDINALITY AS u(id, r)
    JOIN events e ON e.id = u.id
)"""


def neighbours_sql(where: str, model: str, term_score: str) -> str:
    emb_table, owner = EMBEDDINGS["events"]
    return f"""
WITH {_SEEDS},
nb AS (
    SELECT s.r, s.id AS seed, x.id, x.d FROM s, LATERAL (
        SELECT * FROM {_side(where, True)} b UNION ALL SELECT * FROM {_side(where, False)} a
    ) x
)
SELECT nb.r, nb.seed, nb.d, e.id, e.content, e.metadata, e.occurred_at AS at, e.session_id,
       e.expires_at, ({term_score}) AS matched_idf,
       (SELECT 1 - (v.embedding <=> CAST(:qvec AS vector)) FROM {emb_table} v
        WHERE v.{owner} = e.id AND v.model = {sql_literal(model)} LIMIT 1) AS similarity,
       {boost_sql("e.salience_score", "e.occurred_at")} AS boost
FROM nb JOIN events e ON e.id = nb.id
ORDER BY nb.r, nb.d, e.id
"""


def window_sql(where: str, model: str) -> str:
    emb_table, owner = EMBEDDINGS["events"]
    return f"""
WITH {_SEEDS},
w AS (
    SELECT s.id, x.id AS member FROM s, LATERAL (
        SELECT s.id UNION ALL SELECT b.id FROM {_side(where, True)} b
        UNION ALL SELECT a.id FROM {_side(where, False)} a
    ) x
)
SELECT w.id, 1 - (avg(v.embedding) <=> CAST(:qvec AS vector)) AS wsim
FROM w JOIN {emb_table} v ON v.{owner} = w.member AND v.model = {sql_literal(model)}
GROUP BY w.id
"""


def _gain(h: Hit, g: float) -> Hit:
    return replace(h, rrf=h.rrf + g, score=h.score + g * h.boost)


async def fuse_context(search: SearchRepository, hits: list[Hit], model: str) -> list[Hit]:
    v = _current
    if v is not None and v.mode.startswith("expand"):
        # Neighbours join the candidates before late interaction and the episodes run.
        cfg = search.settings
        ranked = await rerank(
            _query["embedder"], _query["query"], await _neighbours(search, hits, model, v), cfg
        )
        return _fuse_episodes(ranked, cfg)
    return await _neighbours(search, hits, model, v)


async def _neighbours(
    search: SearchRepository, hits: list[Hit], model: str, v: Variant | None
) -> list[Hit]:
    if v is None or v.mode == "none" or not hits:
        return hits
    query, qvec, f = _query["query"], _query["qvec"], _query["filters"]
    params: dict[str, Any] = {"qvec": "[" + ",".join(f"{x:.7g}" for x in qvec) + "]", "w": v.window}
    rrf_k = search.settings.rrf_k
    if v.mode == "window":
        params["seeds"] = [h.id for h in hits]
        sql = window_sql(event_where(f, params), model)
        wsim = {int(r.id): float(r.wsim) for r in await search.session.execute(text(sql), params)}
        order = {i: r for r, i in enumerate(sorted(wsim, key=lambda i: -wsim[i]), start=1)}
        out = [_gain(h, v.w / (rrf_k + order[h.id])) if h.id in order else h for h in hits]
        return sorted(out, key=lambda h: (h.score, h.id), reverse=True)
    seeds = hits[: v.seeds]
    params.update(seeds=[h.id for h in seeds], **boost_params(search.settings))
    terms, _ = await search.terms("event", query)
    term_score, _ = lexical_parts(terms, params)
    sql = neighbours_sql(event_where(f, params), model, term_score)
    rows = (await search.session.execute(text(sql), params)).all()
    total = sum(t.idf for t in terms)
    known = {h.id: h for h in hits}
    seed_rrf = {h.id: h.rrf for h in seeds}
    gain: dict[int, float] = {}
    new: dict[int, Hit] = {}
    listed = 0
    for r in rows:
        coverage = float(r.matched_idf) / total if total > 0 else 0.0
        if r.id not in known:
            if v.mode.startswith("support") or (v.mode.startswith("gated") and coverage <= 0):
                continue
            new[r.id] = Hit(
                r.id,
                "event",
                r.content,
                0.0,
                r.at,
                r.session_id,
                r.metadata,
                r.expires_at,
                similarity=None if r.similarity is None else float(r.similarity),
                coverage=coverage,
                boost=float(r.boost),
            )
        if v.mode == "expand":
            g = 0.0
        elif v.mode.endswith("share"):
            g = v.w * seed_rrf[r.seed] / int(r.d)
        elif r.id in gain:
            continue
        else:
            listed += 1
            g = v.w / (rrf_k + listed)
        gain[r.id] = max(gain.get(r.id, 0.0), g)
    out = [_gain(h, gain[h.id]) if h.id in gain else h for h in [*hits, *new.values()]]
    return sorted(out, key=lambda h: (h.score, h.id), reverse=True)


_recall_events = event_recall.recall_events
_diversify = event_recall.diversify
_fuse_episodes = event_recall.fuse_episodes


async def recall_events(
    search: SearchRepository,
    embedder: Any,
    query: str,
    qvec: list[float],
    k: int,
    filters: EventFilters,
    pool_out: list[Hit] | None = None,
) -> list[Hit]:
    _query.update(query=query, qvec=qvec, filters=filters, embedder=embedder)
    return await _recall_events(search, embedder, query, qvec, k, filters, pool_out)


async def diversify(
    search: SearchRepository, hits: Sequence[Hit], k: int, model: str, cfg: Any
) -> list[Hit]:
    return await _diversify(search, await fuse_context(search, list(hits), model), k, model, cfg)


def fuse_episodes(hits: Sequence[Hit], s: Any) -> list[Hit]:
    if _current is not None and (not _current.episodes or _current.mode.startswith("expand")):
        return list(hits)
    return _fuse_episodes(hits, s)


def _patch() -> None:
    """Route recall through the variant under test (at run time, not on import: a test that
    imports this module leaves recall alone)."""
    local_recall.recall_events = recall_events  # type: ignore[assignment]
    event_recall.diversify = diversify  # type: ignore[assignment]
    event_recall.fuse_episodes = fuse_episodes  # type: ignore[assignment]


def _choose(name: str | None) -> None:
    global _current
    _current = None if name is None else VARIANTS[name]


async def run(path: Path, names: list[str]) -> dict[str, Any]:
    _patch()
    return await compare(path, names, _choose, k=K)


_LOAD = """
INSERT INTO events (event_type, event_source, content, session_id, client_id, occurred_at)
SELECT 'note', 'api', 'memory ' || i, 's' || (i % 50), 1 + (i % 8),
       now() - interval '1 hour' + i * interval '10 ms'
FROM generate_series(1, :n) i
"""


async def lookup_cost(n: int = 100_000, repeats: int = 60) -> dict[str, Any]:
    """p50/p95 ms of the neighbour statement (no vectors: the lookup alone) at `n` memories."""
    out: dict[str, Any] = {}
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await open_state(Path(tmp), None)
        try:
            async with state.sessionmaker() as s:
                await s.execute(text(_LOAD), {"n": n})
                await s.commit()
            for index in ("as shipped", "+ (session_id, occurred_at, id)"):
                if index != "as shipped":
                    async with state.sessionmaker() as s:
                        await s.execute(
                            text("CREATE INDEX ON events (session_id, occurred_at, id)")
                        )
                        await s.commit()
                async with state.sessionmaker() as s:
                    await s.execute(text("ANALYZE events"))
                    await s.commit()
                for scope, f in (
                    ("unfiltered", EventFilters()),
                    ("one client", EventFilters(client_id=1)),
                ):
                    for window in (1, 2):
                        ms = []
                        for _ in range(repeats):
                            params: dict[str, Any] = {
                                "w": window,
                                "seeds": [rng.randrange(1, n + 1) for _ in range(10)],
                            }
                            where = event_where(f, params)
                            sql = (
                                f"WITH {_SEEDS}, nb AS (SELECT x.id FROM s, LATERAL ("
                                f"SELECT * FROM {_side(where, True)} b UNION ALL "
                                f"SELECT * FROM {_side(where, False)} a) x) SELECT count(*) FROM nb"
                            )
                            async with state.sessionmaker() as s:
                                t0 = time.perf_counter()
                                await s.execute(text(sql), params)
                                ms.append((time.perf_counter() - t0) * 1000)
                        out[f"{index}, {scope}, window {window}"] = (
                            median(ms[5:]),
                            percentile(ms[5:], 95),
                        )
        finally:
            await state.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    parser.add_argument("--only", nargs="*", default=[], help="variant name prefixes")
    parser.add_argument("--lookup-cost", action="store_true", help="time the lookup at 100k")
    args = parser.parse_args()
    if args.lookup_cost:
        cost = asyncio.run(lookup_cost())
        print_table(
            "Neighbour statement, 10 seeds, 100,000 memories (ms)",
            ["indexes, scope, window", "p50", "p95"],
            [(name, *v) for name, v in cost.items()],
        )
        print(f"wrote {write_json('recall_context_cost', cost)}")
        return
    require_files(parser, [args.data])
    names = chosen(VARIANTS, args.only)
    out = asyncio.run(run(args.data, names))
    print_comparison(out, "with conversation context", K)
    print(f"wrote {write_json('recall_context', out)}")


if __name__ == "__main__":
    main()
