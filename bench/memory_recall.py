"""Recall quality on LoCoMo: Almanac's hybrid recall against BM25 and vector-only baselines.

Usage: .venv/bin/python bench/memory_recall.py [--data PATH/26.json] [--embedder-assets DIR]

`--embedder-assets` runs everything with another local model folder (one built by
scripts/build_embedder.py) instead of the packaged default, to compare candidate embedders
through the full recall path; its results go to bench/results/memory_recall-<folder>.json,
leaving the default's memory_recall.json alone.

Every turn is ingested as one memory (speaker and text, the image caption when present,
the session's date as occurred_at, dia_id in metadata); each question (category 5, the
adversarial one, skipped) is asked against that conversation. Reported: recall@5 and
recall@10 of the gold turns (fraction found, and share of questions with every gold turn
found), overall and per category, and the latency of each recall. The two baselines run
over exactly the same turn texts in the same run.

`almanac` is recall as configured by default; the other almanac rows are the same recall,
same memories, same run, with signals switched off, so each change is measured against
the one before it: `vector+text` (the two-list fusion alone), `+rerank` (late interaction,
memory.rerank), `+graph` (the graph signal alone, memory.graph_signal), `rerank+graph`
(both: the previous default), `+author` (and the author signal, memory.author_signal),
`+aliases` (and short forms of names, memory.entities), `+mmr` (and MMR,
memory.diversity), `+mmr, no author` (MMR without the author signal and short forms),
`+episodes` (and the episode signal, memory.episodes: everything, as `almanac`),
`+episodes, no mmr` (everything but MMR).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
    result_name,
    write_json,
)

from almanac.cache.local import LocalCache  # noqa: E402
from almanac.cli.runtime import LocalImport  # noqa: E402
from almanac.config import Settings  # noqa: E402
from almanac.db.uow import unit_of_work  # noqa: E402
from almanac.db.vector_indexes import ensure_indexes  # noqa: E402
from almanac.embedder.local import LocalEmbedder  # noqa: E402
from almanac.memory.schemas import RecallQuery, RememberIn  # noqa: E402
from almanac.memory.service import MemoryService  # noqa: E402
from almanac.state import build_state  # noqa: E402

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_GRAPH_OFF = {"graph_weight": 0.0, "graph_neighbour_weight": 0.0}
# Search settings changed per almanac row (see the module docstring).
_EPISODES_OFF = {"episode_weight": 0.0}
_AUTHOR_OFF = {
    "author_weight": 0.0,
    "entity_aliases": False,
    "diversity_lambda": 1.0,
    **_EPISODES_OFF,
}
VARIANTS: dict[str, dict[str, float | bool]] = {
    "vector+text": {"rerank_weight": 0.0, **_GRAPH_OFF, **_AUTHOR_OFF},
    "+rerank": {**_GRAPH_OFF, **_AUTHOR_OFF},
    "+graph": {"rerank_weight": 0.0, **_AUTHOR_OFF},
    "rerank+graph": _AUTHOR_OFF,
    "+author": {"entity_aliases": False, "diversity_lambda": 1.0, **_EPISODES_OFF},
    "+aliases": {"diversity_lambda": 1.0, **_EPISODES_OFF},
    "+mmr": _EPISODES_OFF,
    "+mmr, no author": {"author_weight": 0.0, "entity_aliases": False, **_EPISODES_OFF},
    "+episodes": {},
    "+episodes, no mmr": {"diversity_lambda": 1.0},
    "almanac": {},
}
KS = (5, 10)


@dataclass
class Turn:
    dia_id: str
    text: str
    at: datetime


@dataclass
class Question:
    text: str
    gold: set[str]
    category: int


def load(path: Path) -> tuple[str, list[Turn], list[Question]]:
    import json

    data = json.loads(path.read_text())
    conv = data["conversation"] if "conversation" in data else data
    turns: list[Turn] = []
    n = 1
    while f"session_{n}" in conv:
        at = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        for t in conv[f"session_{n}"]:
            text = f"{t['speaker']}: {t['text']}"
            if t.get("blip_caption"):
                text += f" [image: {t['blip_caption']}]"
            turns.append(Turn(t["dia_id"], text, at.replace(tzinfo=UTC)))
        n += 1
    questions = []
    for qa in data["qa"]:
        if qa.get("category") == 5:
            continue
        gold = {g.strip() for ev in qa["evidence"] for g in re.split(r"[;,]", ev) if g.strip()}
        if gold:
            questions.append(Question(qa["question"], gold, int(qa["category"])))
    return data.get("sample_id", path.stem), turns, questions


_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75), the usual lexical baseline."""

    def __init__(self, docs: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(tokenize(d)) for d in docs]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / len(self.lengths)
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(docs)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}
        self.k1, self.b = k1, b

    def rank(self, query: str, k: int) -> list[int]:
        terms = tokenize(query)
        scores = []
        for i, d in enumerate(self.docs):
            norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
            s = sum(
                self.idf.get(t, 0.0) * d[t] * (self.k1 + 1) / (d[t] + norm) for t in terms if t in d
            )
            scores.append(s)
        return list(np.argsort(-np.asarray(scores), kind="stable")[:k])


def score(ranked: list[list[str]], questions: list[Question]) -> dict[str, Any]:
    """recall@k as the mean fraction of gold turns found, and as all-gold-found share."""
    out: dict[str, Any] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        groups["overall"].append(i)
        groups[CATEGORIES.get(q.category, str(q.category))].append(i)
    for name, idx in groups.items():
        entry: dict[str, Any] = {"questions": len(idx)}
        for k in KS:
            fracs = [
                len(questions[i].gold & set(ranked[i][:k])) / len(questions[i].gold) for i in idx
            ]
            alls = [float(questions[i].gold <= set(ranked[i][:k])) for i in idx]
            entry[f"recall@{k}"] = sum(fracs) / len(fracs)
            entry[f"all@{k}"] = sum(alls) / len(alls)
        out[name] = entry
    return out


async def ingest(state: Any, conv_id: str, turns: list[Turn]) -> tuple[str, float]:
    """Remember every turn as one memory of session `locomo-<conv_id>`: (session, seconds)."""
    client = LocalImport(state)
    session = f"locomo-{conv_id}"
    t0 = time.perf_counter()
    items = [
        RememberIn(
            content=t.text,
            occurred_at=t.at,
            session_id=session,
            event_type="conversation_turn",
            metadata={"dia_id": t.dia_id},
        )
        for t in turns
    ]
    for start in range(0, len(items), 500):
        await client.remember_batch(items[start : start + 500])
    return session, time.perf_counter() - t0


async def ask(
    state: Any, settings: Settings, cache: Any, session: str, text: str, k: int
) -> tuple[list[str], float]:
    """One question through real recall, in its own unit of work: the turns found (their
    dia_ids, best first) and the milliseconds it took."""
    rq = RecallQuery(query=text, k=k, session_id=session, kinds=["event"])
    t0 = time.perf_counter()
    async with unit_of_work(state.sessionmaker) as uow:
        out = await MemoryService(uow, state.embedder, cache, settings).recall(rq)
    return [h.metadata["dia_id"] for h in out.results], (time.perf_counter() - t0) * 1000


async def open_state(data_dir: Path, assets: Path | None) -> Any:
    """Almanac's state in a fresh data folder; with `assets`, that local model instead."""
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    state = await build_state(settings)
    if assets is not None:
        await state.embedder.close()
        state.embedder = LocalEmbedder(assets)
        await ensure_indexes(state.engine, state.embedder.model, state.embedder.dim)
    return state


async def run(path: Path, assets: Path | None = None) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    texts = [t.text for t in turns]
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await open_state(Path(tmp), assets)
        try:
            session, ingest_s = await ingest(state, conv_id, turns)

            ranked: dict[str, list[list[str]]] = {}
            latencies: dict[str, list[float]] = {}
            for name, change in VARIANTS.items():
                search = state.settings.search.model_copy(update=change)
                settings_v = state.settings.model_copy(update={"search": search})
                cache = LocalCache()  # each variant's own: cached answers are per settings
                ranked[name], latencies[name] = [], []
                for q in questions:
                    ids, ms = await ask(state, settings_v, cache, session, q.text, max(KS))
                    latencies[name].append(ms)
                    ranked[name].append(ids)

            # Vector-only baseline: the same embedder, exact cosine over the same texts.
            doc_vecs = await state.embedder.embed(texts)
            q_vecs = await state.embedder.embed([q.text for q in questions])
            sims = q_vecs @ doc_vecs.T
            vector_ranked = [
                [turns[j].dia_id for j in np.argsort(-row, kind="stable")[: max(KS)]]
                for row in sims
            ]
            embedder_model = state.embedder.model
        finally:
            await state.close()

    bm25 = BM25(texts)
    bm25_ranked = [[turns[j].dia_id for j in bm25.rank(q.text, max(KS))] for q in questions]

    return {
        "conversation": conv_id,
        "turns": len(turns),
        "questions": len(questions),
        "embedder": embedder_model,
        "ingest_seconds": round(ingest_s, 3),
        "recall_latency_ms": {
            name: {"p50": median(ms), "p95": percentile(ms, 95)} for name, ms in latencies.items()
        },
        "variants": VARIANTS,
        "systems": {
            **{name: score(r, questions) for name, r in ranked.items()},
            "bm25": score(bm25_ranked, questions),
            "vector": score(vector_ranked, questions),
        },
    }


async def compare(
    path: Path,
    names: list[str],
    choose: Callable[[str | None], None],
    prepare: Callable[[Any, list[Turn]], Awaitable[None]] | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """Every question through real recall once per variant in `names` (`choose(name)` sets
    the variant up first; None after the last), variants interleaved question by question
    so the machine's noise falls on all of them, with BM25 and vector alone over the same
    turns: recall@k per category and recall p50/p95 in ms (in-process). `prepare` runs once
    after ingestion (state, turns)."""
    conv_id, turns, questions = load(path)
    ranked: dict[str, list[list[str]]] = {n: [] for n in names}
    took: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await open_state(Path(tmp), None)
        try:
            session, _ = await ingest(state, conv_id, turns)
            if prepare is not None:
                await prepare(state, turns)
            for q in questions:
                for name in names:
                    choose(name)
                    ids, ms = await ask(state, state.settings, LocalCache(), session, q.text, k)
                    ranked[name].append(ids)
                    took[name].append(ms)
            choose(None)
            qv = await state.embedder.embed([q.text for q in questions])
            dv = await state.embedder.embed([t.text for t in turns])
        finally:
            await state.close()
    bm25 = BM25([t.text for t in turns])
    ranked["bm25"] = [[turns[j].dia_id for j in bm25.rank(q.text, k)] for q in questions]
    ranked["vector"] = [
        [turns[int(j)].dia_id for j in (-row).argsort(kind="stable")[:k]] for row in qv @ dv.T
    ]
    return {
        "conversation": conv_id,
        "scores": {n: score(r, questions) for n, r in ranked.items()},
        "took": {n: (median(ms), percentile(ms, 95)) for n, ms in took.items()},
    }


def chosen(variants: Iterable[str], only: Sequence[str]) -> list[str]:
    """The variants a script's `--only` prefixes name, "almanac" (the baseline) always."""
    return [n for n in variants if not only or n == "almanac" or any(map(n.startswith, only))]


def print_comparison(out: dict[str, Any], title: str, k: int = 10) -> None:
    """`compare`'s result as one table: recall@k per category, then p50/p95 ms."""
    groups = ["overall", *CATEGORIES.values()]
    rows = [
        (
            name,
            *(s[g][f"recall@{k}"] for g in groups),
            *(out["took"].get(name, (float("nan"),) * 2)),
        )
        for name, s in out["scores"].items()
    ]
    print_table(
        f"LoCoMo {out['conversation']}: recall@{k} {title}",
        ["system", *groups, "p50 ms", "p95 ms"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    parser.add_argument("--embedder-assets", type=Path, help="a local model folder to use")
    args = parser.parse_args()
    require_files(parser, [args.data])
    result = asyncio.run(run(args.data, args.embedder_assets))
    systems = result["systems"]
    rows = []
    for group in systems["almanac"]:
        for name in systems:
            e = systems[name][group]
            rows.append(
                (
                    group,
                    name,
                    e["questions"],
                    e["recall@5"],
                    e["recall@10"],
                    e["all@5"],
                    e["all@10"],
                )
            )
    print_table(
        f"LoCoMo {result['conversation']}: {result['turns']} turns, "
        f"{result['questions']} questions",
        ["group", "system", "n", "R@5", "R@10", "all@5", "all@10"],
        rows,
    )
    for name, lat in result["recall_latency_ms"].items():
        print(f"{name}: recall p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms (in-process)")
    print(f"wrote {write_json(result_name('memory_recall', args.embedder_assets), result)}")


if __name__ == "__main__":
    main()
