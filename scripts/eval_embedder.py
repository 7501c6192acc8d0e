"""Measure candidate local embedders: retrieval recall on LoCoMo and throughput on this machine.

    .venv/bin/python scripts/eval_embedder.py [ASSET_DIR ...] [--data PATH] [--json OUT]

With no ASSET_DIR the packaged default (`LocalEmbedder()`) is measured. Candidate folders are
built with `scripts/build_embedder.py [--source WHEEL] --candidate NAME --out DIR`.

Retrieval: every turn of the conversation is one document, `"{speaker}: {text}"` plus
`" [image: {blip_caption}]"` when the turn has a caption. For every question whose category is
not 5 (adversarial), all turns are ranked by cosine similarity to the question; recall@k is the
fraction of gold evidence dia_ids found in the top k ("D8:6; D9:17" counts as two ids), averaged
over questions, overall and per category. `all@k` is the share of questions with every gold id in
the top k. Nothing here is tuned to the questions.

With `--hybrid`, each candidate is also fused with a plain BM25 ranking by reciprocal rank
fusion (k=60, top 100 of each, equal weights: the shape of Almanac's recall, not its SQL), to
see how the vector side complements a lexical one.

Throughput: documents/second embedding all turns with batch_size=64 (median of 3 runs after a
warm-up run), and the median latency of single-query embeddings (`embed_query`, one at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from almanac.embedder.local import LocalEmbedder

DEFAULT_DATA = Path("/work/shared/bench/locomo-dev/26.json")
KS = (5, 10)


def load_conversation(path: Path) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    conv = data.get("conversation", data)
    ids: list[str] = []
    docs: list[str] = []
    n = 1
    while f"session_{n}_date_time" in conv:
        for turn in conv.get(f"session_{n}", []) or []:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [image: {turn['blip_caption']}]"
            ids.append(turn["dia_id"])
            docs.append(text)
        n += 1
    questions = []
    for qa in data["qa"]:
        if qa.get("category") == 5:
            continue
        gold = [p.strip() for ev in qa.get("evidence", []) for p in str(ev).split(";") if p.strip()]
        if gold:
            questions.append({"q": qa["question"], "cat": int(qa["category"]), "gold": gold})
    return ids, docs, questions


_WORD = re.compile(r"[a-z0-9]+")
_STOP = set(
    "a an the and or but of to in on at for with by from is are was were be been am do does did "
    "i you he she it we they me him her us them my your his its our their this that what when "
    "where who whom which how why".split()
)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def bm25_scores(
    docs: list[str], queries: list[str], k1: float = 1.2, b: float = 0.75
) -> np.ndarray:
    toks = [_words(d) for d in docs]
    avg = sum(map(len, toks)) / len(toks)
    df: dict[str, int] = defaultdict(int)
    for t in toks:
        for w in set(t):
            df[w] += 1
    idf = {w: math.log(1 + (len(docs) - n + 0.5) / (n + 0.5)) for w, n in df.items()}
    tfs = [defaultdict(int) for _ in toks]
    for tf, t in zip(tfs, toks, strict=True):
        for w in t:
            tf[w] += 1
    out = np.zeros((len(queries), len(docs)), dtype=np.float64)
    for qi, q in enumerate(queries):
        for w in set(_words(q)):
            if w not in idf:
                continue
            for di, tf in enumerate(tfs):
                f = tf.get(w, 0)
                if f:
                    norm = f + k1 * (1 - b + b * len(toks[di]) / avg)
                    out[qi, di] += idf[w] * f * (k1 + 1) / norm
    return out


def rrf(vector: np.ndarray, lexical: np.ndarray, k: int = 60, depth: int = 100) -> np.ndarray:
    """Reciprocal rank fusion of the top `depth` of each; lexical hits need a positive score."""
    fused = np.zeros_like(vector, dtype=np.float64)
    for scores, needs_match in ((vector, False), (lexical, True)):
        ranked = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
        for qi in range(scores.shape[0]):
            for rank, di in enumerate(ranked[qi]):
                if needs_match and scores[qi, di] <= 0:
                    break
                fused[qi, di] += 1.0 / (k + rank + 1)
    return fused


def recall_table(
    ids: list[str], scores: np.ndarray, questions: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    ranked = np.argsort(-scores, axis=1, kind="stable")
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for qi, q in enumerate(questions):
        for k in KS:
            top = {ids[j] for j in ranked[qi, :k]}
            found = sum(1 for g in q["gold"] if g in top)
            for bucket in ("all", f"cat{q['cat']}"):
                per[bucket][f"r@{k}"].append(found / len(q["gold"]))
                per[bucket][f"all@{k}"].append(float(found == len(q["gold"])))
    out: dict[str, dict[str, float]] = {}
    for bucket, metrics in sorted(per.items()):
        out[bucket] = {m: float(np.mean(v)) for m, v in metrics.items()}
        out[bucket]["n"] = len(next(iter(metrics.values())))
    return out


async def measure(assets: Path | None, data: Path, hybrid: bool, threads: int) -> dict[str, Any]:
    ids, docs, questions = load_conversation(data)
    emb = LocalEmbedder(assets, batch_size=64, threads=threads)
    t0 = time.perf_counter()
    emb.load()
    load_s = time.perf_counter() - t0

    doc_vecs = await emb.embed(docs)  # warm-up, and the vectors used for recall
    runs = []
    cpu = []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        again = await emb.embed(docs)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    assert np.allclose(again, doc_vecs, atol=1e-5), "embedding is not deterministic"
    docs_per_s = len(docs) / statistics.median(runs)

    q_vecs = await emb.embed([q["q"] for q in questions])
    lat = []
    for q in questions:
        t = time.perf_counter()
        await emb.embed_query(q["q"])
        lat.append(time.perf_counter() - t)

    folder = emb.assets
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    gold_ids = {g for q in questions for g in q["gold"]}
    vec_scores = q_vecs @ doc_vecs.T
    extra: dict[str, Any] = {}
    if hybrid:
        lex = bm25_scores(docs, [q["q"] for q in questions])
        extra["bm25_recall"] = recall_table(ids, lex, questions)
        extra["hybrid_recall"] = recall_table(ids, rrf(vec_scores, lex), questions)
    return {
        "name": emb.model,
        "assets": str(folder),
        "dim": emb.dim,
        "size_mb": size / 1e6,
        "load_s": load_s,
        "docs": len(docs),
        "questions": len(questions),
        "gold_ids_missing_from_turns": sorted(gold_ids - set(ids)),
        "docs_per_s": docs_per_s,
        # CPU seconds of this process (all its threads) per document: less sensitive than
        # wall time to other work on the machine.
        "cpu_ms_per_doc": 1000 * statistics.median(cpu) / len(docs),
        "query_ms_median": 1000 * statistics.median(lat),
        "recall": recall_table(ids, vec_scores, questions),
        "loadavg_1m_after": os.getloadavg()[0],
        **extra,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    cats = sorted({c for r in results for c in r["recall"] if c != "all"})
    head = ["candidate", "dim", "MB", "R@5", "R@10", *[f"{c} R@10" for c in cats]]
    head += ["all@10", "docs/s", "CPU ms/doc", "query ms"]
    print(" | ".join(head))
    for r in results:
        rec = r["recall"]
        row = [
            r["name"],
            str(r["dim"]),
            f"{r['size_mb']:.1f}",
            f"{rec['all']['r@5']:.3f}",
            f"{rec['all']['r@10']:.3f}",
            *[f"{rec[c]['r@10']:.3f} (n={int(rec[c]['n'])})" for c in cats],
            f"{rec['all']['all@10']:.3f}",
            f"{r['docs_per_s']:.0f}",
            f"{r['cpu_ms_per_doc']:.3f}",
            f"{r['query_ms_median']:.2f}",
        ]
        print(" | ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assets", nargs="*", type=Path, help="asset folders (default: packaged)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, help="write the full results here")
    parser.add_argument("--hybrid", action="store_true", help="also fuse with BM25 (RRF)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: auto)")
    args = parser.parse_args()
    folders: list[Path | None] = list(args.assets) or [None]
    results = [
        asyncio.run(measure(folder, args.data, args.hybrid, args.threads)) for folder in folders
    ]
    print_table(results)
    print(
        "1-minute load average after each run:", [round(r["loadavg_1m_after"], 2) for r in results]
    )
    if "hybrid_recall" in results[0]:
        bm = results[0]["bm25_recall"]["all"]
        print(f"BM25 alone: R@5 {bm['r@5']:.3f} R@10 {bm['r@10']:.3f}")
        for r in results:
            h = r["hybrid_recall"]["all"]
            print(f"{r['name']} + BM25 (RRF): R@5 {h['r@5']:.3f} R@10 {h['r@10']:.3f}")
    missing = results[0]["gold_ids_missing_from_turns"]
    if missing:
        print(f"gold ids with no matching turn (count as misses): {missing}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
