"""Query term expansion from the embedder's token table: near words of the query's words
added to the lexical (BM25) signal at a lower weight, measured against recall as
configured, BM25 and vector alone, in one run.

Usage: .venv/bin/python bench/recall_expansion.py [--data PATH/26.json] [--only PREFIX ...]

Many gold turns recall misses hold a related word, not the query's ("family" for "kids",
"instrument" for "violin"). The local static model has a vector per vocabulary token, so
the words near a query word are one product with the vocabulary. Each variant is real
recall over the same memories as bench/memory_recall.py with the query's terms
(SearchRepository.begin/terms, patched here; src is unchanged) extended by, for each
content word of the query (one whole vocabulary token, not a Postgres stop word, at most
`_MAX_WORDS` words), its nearest whole-word vocabulary tokens with cosine >= `floor`,
keeping the first `k` whose Postgres lexeme is new to the query and that some memory holds.
An added term's BM25 weight (its IDF) is multiplied by `w`; with `nominate` it may also
bring candidates into the lexical list by itself (as a rare query word does), otherwise it
only adds to the score of candidates the query's own words found. `proper`: also expand
words written with a capital inside the query (names, whose neighbours are other names).
`list` variants leave the query's terms alone and add the memories holding the added terms,
ranked by BM25 over those terms alone, as one more reciprocal-rank list of weight `w` in
recall's fused statement (memory.search's `fused_sql`, patched here).

The vocabulary's unit vectors (whole words of three letters or more, ~21,000 x 384 float32)
are computed once when the table loads; the nearest-word step per query is one product of
at most `_MAX_WORDS` rows with them. Reported: recall@10 per category, recall p50/p95 per
variant in ms (in-process, variants interleaved question by question, on ~400 memories),
and the expansion step's own p50/p95 in ms (the token-table product alone, and with its
two SQL round trips: the words' lexemes, then the added terms' IDF).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SHARED_BENCH,
    median,
    percentile,
    print_table,
    require_files,
    write_json,
)
from memory_recall import chosen, compare, print_comparison  # noqa: E402
from sqlalchemy import text  # noqa: E402

import almanac.memory.search as search_module  # noqa: E402
from almanac.memory.search import SearchRepository  # noqa: E402
from almanac.memory.search_sql import TERMS_SQL, Term  # noqa: E402

K = 10
_MAX_WORDS = 8  # query words expanded, at most (bounds the product)
_NEAR = 12  # nearest tokens looked at per word, before lexemes are deduplicated
_WORDS = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Variant:
    k: int
    floor: float
    w: float
    nominate: bool = True
    proper: bool = False
    rank: bool = False  # the added terms as their own BM25 list, fused by reciprocal rank


VARIANTS: dict[str, Variant | None] = {
    "almanac": None,
    "k=2 cos>=0.6 w=0.3": Variant(2, 0.6, 0.3),
    "k=2 cos>=0.6 w=0.5": Variant(2, 0.6, 0.5),
    "k=3 cos>=0.6 w=0.3": Variant(3, 0.6, 0.3),
    "k=3 cos>=0.6 w=0.5": Variant(3, 0.6, 0.5),
    "k=3 cos>=0.5 w=0.3": Variant(3, 0.5, 0.3),
    "k=5 cos>=0.5 w=0.3": Variant(5, 0.5, 0.3),
    "k=5 cos>=0.6 w=0.5": Variant(5, 0.6, 0.5),
    "k=3 cos>=0.7 w=0.5": Variant(3, 0.7, 0.5),
    "k=3 cos>=0.6 w=1": Variant(3, 0.6, 1.0),
    "k=3 cos>=0.6 w=0.5 score-only": Variant(3, 0.6, 0.5, nominate=False),
    "k=5 cos>=0.5 w=0.5 score-only": Variant(5, 0.5, 0.5, nominate=False),
    "k=3 cos>=0.6 w=0.5 +names": Variant(3, 0.6, 0.5, proper=True),
    "list k=2 cos>=0.6 w=0.25": Variant(2, 0.6, 0.25, rank=True),
    "list k=2 cos>=0.6 w=0.5": Variant(2, 0.6, 0.5, rank=True),
    "list k=3 cos>=0.6 w=0.25": Variant(3, 0.6, 0.25, rank=True),
    "list k=3 cos>=0.6 w=0.5": Variant(3, 0.6, 0.5, rank=True),
    "list k=5 cos>=0.5 w=0.5": Variant(5, 0.5, 0.5, rank=True),
    "list k=3 cos>=0.6 w=1": Variant(3, 0.6, 1.0, rank=True),
}
_current: Variant | None = None
_cost: dict[str, list[float]] = {"product": [], "step": []}


class Vocabulary:
    """The token table's whole words as unit vectors, and each token's word."""

    def __init__(self, embedder: Any) -> None:
        runner = embedder._ensure_loaded()
        table = runner.table
        assert table is not None, "expansion needs the static (token table) model"
        self.runner = runner
        inv = {i: w for w, i in runner.tokenizer.get_vocab().items()}
        ids = np.array(
            [i for i in range(table.rows_count) if inv.get(i, "").isalpha() and len(inv[i]) >= 3],
            dtype=np.int64,
        )
        vecs = table.rows(ids).astype(np.float32)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        self.ids, self.vecs = ids, vecs
        self.words = [inv[int(i)] for i in ids]
        self.row = {int(t): r for r, t in enumerate(ids)}

    def near(self, words: list[str], floor: float) -> list[list[str]]:
        """For each word (one whole token of the vocabulary, else none), its nearest other
        words with cosine >= floor, nearest first."""
        t0 = time.perf_counter()
        rows = []
        for seq in self.runner.token_ids(words):
            rows.append(self.row.get(seq[0]) if len(seq) == 1 else None)
        known = [r for r in rows if r is not None]
        out: list[list[str]] = [[] for _ in words]
        if known:
            sims = self.vecs[known] @ self.vecs.T
            top = np.argpartition(-sims, _NEAR, axis=1)[:, : _NEAR + 1]
            j = 0
            for n, r in enumerate(rows):
                if r is None:
                    continue
                order = top[j][np.argsort(-sims[j, top[j]])]
                out[n] = [self.words[c] for c in order if c != r and sims[j, c] >= floor]
                j += 1
        _cost["product"].append((time.perf_counter() - t0) * 1000)
        return out


_vocab: Vocabulary | None = None
# The added terms of the query being recalled, for `fused_sql` (rank variants).
_extra: list[Term] = []
_orig_begin = SearchRepository.begin
_orig_terms = SearchRepository.terms
_orig_fused = search_module.fused_sql


async def expand(search: SearchRepository, kind: str, query: str, v: Variant) -> None:
    _extra.clear()
    terms, avgdl = search._terms[(kind, query)]
    assert _vocab is not None
    t0 = time.perf_counter()
    words: list[str] = []
    for m in _WORDS.finditer(query):
        w = m.group()
        if len(w) < 3 or (not v.proper and m.start() > 0 and w[0].isupper()):
            continue
        if w.lower() not in words:
            words.append(w.lower())
    have = {t.lexeme for t in terms}
    lex = await search.lexemes(words)
    words = [w for w, ls in zip(words, lex, strict=True) if ls][:_MAX_WORDS]  # no stop words
    near = _vocab.near(words, v.floor)
    flat = sorted({c for cs in near for c in cs})
    lexeme = dict(zip(flat, await search.lexemes(flat), strict=True))
    added: dict[str, str] = {}  # lexeme -> the word it came from
    for cs in near:
        n = 0
        for c in cs:
            ls = lexeme[c]
            if len(ls) != 1 or (x := next(iter(ls))) in have or x in added:
                continue
            added[x] = c
            n += 1
            if n == v.k:
                break
    if added:
        rows = await search.session.execute(
            text(TERMS_SQL),
            {
                "kind": kind,
                "qtext": " ".join(added.values()),
                "share": search.settings.common_term_share,
            },
        )
        if v.rank:
            _extra[:] = [Term(r.lexeme, float(r.idf), True) for r in rows if r.known]
        else:
            extra = [
                Term(r.lexeme, float(r.idf) * v.w, bool(r.selective) and v.nominate, True)
                for r in rows
                if r.known and r.lexeme in added
            ]
            search._terms[(kind, query)] = ([*terms, *extra], avgdl)
    _cost["step"].append((time.perf_counter() - t0) * 1000)


def fused_sql(table: str, where: str, model: str, dim: int, s: Any, *a: Any, **kw: Any) -> str:
    """Recall's statement, with (rank variants) one more list: the memories holding the
    added terms, by their BM25 over those terms alone, fused at weight `w`."""
    sql = _orig_fused(table, where, model, dim, s, *a, **kw)
    v = _current
    if v is None or not v.rank or table != "events" or not _extra:
        return sql
    params = a[1] if len(a) > 1 else kw["params"]
    scores = []
    for i, term in enumerate(_extra):
        params[f"xlex{i}"], params[f"xidf{i}"] = term.tsquery, term.idf
        scores.append(
            f"CASE WHEN e.search_tsv @@ CAST(:xlex{i} AS tsquery) "
            f"THEN CAST(:xidf{i} AS float8) ELSE 0 END"
        )
    params["xany"] = " | ".join(t.tsquery for t in _extra)
    params["w_exp"] = v.w
    txt2 = f"""txt2 AS (
    SELECT id, row_number() OVER (ORDER BY rank DESC, id DESC) AS r FROM (
        SELECT e.id, ({" + ".join(scores)})
               * (CAST(:bm25_k1 AS float8) + 1)
               / (1 + CAST(:bm25_k1 AS float8) * (1 - CAST(:bm25_b AS float8)
                  + CAST(:bm25_b AS float8) * length(e.search_tsv) / CAST(:avgdl AS float8)))
               AS rank
        FROM events e
        WHERE e.search_tsv @@ CAST(:xany AS tsquery) AND {where}
        ORDER BY rank DESC
        LIMIT :n
    ) t
),
fused AS ("""
    part = "SELECT id, CAST(:w_txt AS float8) / (CAST(:rrf_k AS float8) + r) AS part FROM txt"
    assert sql.count("\nfused AS (") == 1 and sql.count(part) == 1
    extra = (
        "\n        UNION ALL\n        SELECT id, CAST(:w_exp AS float8)"
        " / (CAST(:rrf_k AS float8) + r) AS part FROM txt2"
    )
    return sql.replace("\nfused AS (", "\n" + txt2).replace(part, part + extra)


async def begin(self: SearchRepository, query: str, scopes: list[Any]) -> None:
    await _orig_begin(self, query, scopes)
    if _current is not None and ("event", query) in self._terms:
        await expand(self, "event", query, _current)


async def terms(self: SearchRepository, kind: str, query: str) -> tuple[list[Term], float]:
    fresh = (kind, query) not in self._terms
    out = await _orig_terms(self, kind, query)
    if fresh and _current is not None and kind == "event":
        await expand(self, kind, query, _current)
        return self._terms[(kind, query)]
    return out


def _patch() -> None:
    """Route recall through the variant under test (at run time, not on import: a test that
    imports this module leaves recall alone)."""
    SearchRepository.begin = begin  # type: ignore[method-assign]
    SearchRepository.terms = terms  # type: ignore[method-assign]
    search_module.fused_sql = fused_sql  # type: ignore[assignment]


def _use(name: str | None) -> None:
    global _current
    _current = None if name is None else VARIANTS[name]


async def run(path: Path, names: list[str]) -> dict[str, Any]:
    built = 0.0

    async def prepare(state: Any, _turns: list[Any]) -> None:
        nonlocal built
        global _vocab
        t0 = time.perf_counter()
        _vocab = Vocabulary(state.embedder)
        built = (time.perf_counter() - t0) * 1000

    _patch()
    out = await compare(path, names, _use, prepare, K)
    return {
        **out,
        "expansion": {name: (median(ms), percentile(ms, 95)) for name, ms in _cost.items() if ms},
        "vocabulary": {"words": len(_vocab.words) if _vocab else 0, "built_ms": built},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    parser.add_argument("--only", nargs="*", default=[], help="variant name prefixes")
    args = parser.parse_args()
    require_files(parser, [args.data])
    names = chosen(VARIANTS, args.only)
    out = asyncio.run(run(args.data, names))
    print_comparison(out, "with query term expansion", K)
    print_table(
        "Expansion step per query (ms, all variants)",
        ["part", "p50", "p95"],
        [(name, *v) for name, v in out["expansion"].items()],
    )
    voc = out["vocabulary"]
    print(f"vocabulary: {voc['words']} words, built in {voc['built_ms']:.0f} ms (once)")
    print(f"wrote {write_json('recall_expansion', out)}")


if __name__ == "__main__":
    main()
