"""Which fusion changes move LoCoMo recall@10? Candidate changes measured side by side.

Usage: .venv/bin/python bench/recall_variants.py [--data PATH/26.json ...]

Recall's ranking is replayed in numpy from the same inputs Postgres uses: the packaged
embedder's vectors (exact cosine), Postgres' own English lexemes for every turn and
question (`to_tsvector`), BM25 with binary term frequency over distinct lexemes, the
"selective term" candidate rule, top-100 per retriever and reciprocal rank fusion (k=60).
The `almanac` row is that replay; it matches bench/memory_recall.py's end-to-end figure
(0.651 overall on conversation 26), so each variant's difference is what the change would
do in Postgres. Variants are generic (no rule names a question, a speaker or a category).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_BENCH, print_table, require_files, write_json  # noqa: E402
from memory_recall import CATEGORIES, load  # noqa: E402

from almanac.config import Settings  # noqa: E402
from almanac.state import build_state  # noqa: E402

_LEXEMES = (
    "SELECT tsvector_to_array(to_tsvector('english', t)) FROM unnest(CAST(:a AS text[])) "
    "WITH ORDINALITY AS u(t, n) ORDER BY n"
)
Ranking = Callable[[int], list[int]]


async def inputs(path: Path) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await build_state(Settings(data_dir=Path(tmp), _env_file=None))  # type: ignore[call-arg]
        try:
            dv = await state.embedder.embed([t.text for t in turns])
            qv = await state.embedder.embed([q.text for q in questions])
            async with state.sessionmaker() as s:
                dlex = [
                    set(r[0])
                    for r in await s.execute(text(_LEXEMES), {"a": [t.text for t in turns]})
                ]
                qlex = [
                    set(r[0])
                    for r in await s.execute(text(_LEXEMES), {"a": [q.text for q in questions]})
                ]
        finally:
            await state.close()
    return {
        "id": conv_id,
        "turns": turns,
        "questions": questions,
        "dv": dv,
        "qv": qv,
        "dlex": dlex,
        "qlex": qlex,
    }


def variants(d: dict[str, Any]) -> dict[str, Ranking]:
    turns, dv, qv, dlex, qlex = d["turns"], d["dv"], d["qv"], d["dlex"], d["qlex"]
    n = len(turns)
    df: dict[str, int] = defaultdict(int)
    for s in dlex:
        for w in s:
            df[w] += 1
    idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
    lens = np.array([len(s) for s in dlex], float)
    norm = 1 + 1.2 * (1 - 0.75 + 0.75 * lens / lens.mean())

    def bm25(words: set[str]) -> np.ndarray:
        terms = [w for w in words if w in df]
        if not terms:
            return np.zeros(n)
        score = sum(np.array([w in s for s in dlex]) * idf[w] for w in terms) * 2.2 / norm
        least = min(df[w] for w in terms)
        selective = [w for w in terms if df[w] <= max(0.05 * n, least)]
        nominated = np.array([any(w in s for w in selective) for s in dlex])
        return np.where(nominated, score, 0.0)

    cos = qv @ dv.T
    lex = [bm25(q) for q in qlex]

    def top(score: np.ndarray, k: int = 100, only_positive: bool = False) -> list[int]:
        order = [int(i) for i in np.argsort(-score, kind="stable")]
        return [i for i in order if score[i] > 0][:k] if only_positive else order[:k]

    def rrf(lists: list[list[int]], weights: list[float], k: int = 60) -> list[int]:
        acc: dict[int, float] = defaultdict(float)
        for items, w in zip(lists, weights, strict=True):
            for r, i in enumerate(items, start=1):
                acc[i] += w / (k + r)
        return sorted(acc, key=lambda i: -acc[i])

    def fused(qi: int, k: int = 60, wv: float = 1.0, cand: int = 100) -> list[int]:
        return rrf([top(cos[qi], cand), top(lex[qi], cand, True)], [wv, 1.0], k)

    def zlin(qi: int, a: float = 0.7) -> list[int]:
        v, t = cos[qi], lex[qi]
        z = a * (v - v.mean()) / (v.std() + 1e-9) + (1 - a) * (t - t.mean()) / (t.std() + 1e-9)
        return top(z)

    def prf(qi: int, m: int = 3, beta: float = 0.5) -> list[int]:
        expanded = dv @ (qv[qi] + beta * dv[fused(qi)[:m]].mean(0))
        return rrf([top(cos[qi]), top(lex[qi], 100, True), top(expanded)], [1, 1, 1])

    session = [t.dia_id.split(":")[0] for t in turns]
    nb = [[j for j in (i - 1, i + 1) if 0 <= j < n and session[j] == session[i]] for i in range(n)]

    def neighbours(qi: int, g: float = 0.2) -> list[int]:
        score = np.zeros(n)
        for r, i in enumerate(fused(qi), start=1):
            score[i] = 1 / (60 + r)
        smoothed = score + g * np.array(
            [max((score[j] for j in nb[i]), default=0) for i in range(n)]
        )
        return top(smoothed)

    ctx = dv.copy()
    for i in range(n):
        for j in nb[i]:
            ctx[i] += 0.3 * dv[j]
    ctx /= np.linalg.norm(ctx, axis=1, keepdims=True)
    ccos = qv @ ctx.T

    def context_vectors(qi: int) -> list[int]:
        return rrf([top(cos[qi]), top(ccos[qi]), top(lex[qi], 100, True)], [1, 0.5, 1])

    return {
        "bm25 alone": lambda qi: top(lex[qi]),
        "vector alone": lambda qi: top(cos[qi]),
        "almanac (RRF k=60, 100 each)": fused,
        "RRF k=10": lambda qi: fused(qi, k=10),
        "vector weight 0.7": lambda qi: fused(qi, wv=0.7),
        "candidates 200 each": lambda qi: fused(qi, cand=200),
        "z-score linear fusion a=0.7": zlin,
        "pseudo-relevance feedback (Rocchio m=3)": prf,
        "session neighbours share score (g=0.2)": neighbours,
        "context vectors (turn + neighbours)": context_vectors,
    }


def score(rank: Ranking, d: dict[str, Any]) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for qi, q in enumerate(d["questions"]):
        got = {d["turns"][i].dia_id for i in rank(qi)[:10]}
        frac = len(q.gold & got) / len(q.gold)
        groups["overall"].append(frac)
        groups[CATEGORIES[q.category]].append(frac)
    return {g: float(np.mean(v)) for g, v in groups.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[SHARED_BENCH / "locomo-dev" / "26.json"]
    )
    args = parser.parse_args()
    require_files(parser, args.data)
    out: dict[str, Any] = {}
    groups = ["overall", *CATEGORIES.values()]
    for path in args.data:
        d = asyncio.run(inputs(path))
        table = {name: score(rank, d) for name, rank in variants(d).items()}
        out[d["id"]] = table
        print_table(
            f"LoCoMo {d['id']}: recall@10 by variant",
            ["variant", *groups],
            [(name, *(row.get(g, float("nan")) for g in groups)) for name, row in table.items()],
        )
    print(f"wrote {write_json('recall_variants', {'conversations': out})}")


if __name__ == "__main__":
    main()
