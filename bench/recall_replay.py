"""Recall's last step replayed: other ways to pick the k results from the same candidates.

Usage: .venv/bin/python bench/recall_replay.py [--data PATH/26.json]

Multi-hop questions have gold turns spread over several sessions, so two generic remedies
are candidates for recall's final pick: diversity by episode (at most n results from one
episode) and session-level evidence (every candidate gains a reciprocal-rank part for the
rank of its episode, episodes ranked by their best or summed candidate scores). A third,
entity-aware expansion (memories that name the query's entities, corpus-wide), is the graph
signal with its hub limit raised, so it runs as real recall with other settings.

How: LoCoMo is ingested as in bench/memory_recall.py; each "pass" is real recall over every
question with some settings, and records the fused candidates recall hands to its final pick
(memory.diversity). Each "pick" then chooses k of those candidates offline, with recall's own
MMR and relevance floor, so pass x pick covers every change alone and combined in one run.
Every pass runs with recall's episode signal off (memory.episodes), so the picks decide
about episodes; the run checks that the MMR pick replays that pass's real answers exactly,
and that "session max 1.0" replays recall as configured (the episode signal on).
An episode is the memories of one session on one day (`session_id`, `occurred_at`'s date):
one LoCoMo session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
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
from memory_recall import BM25, CATEGORIES, ask, ingest, load, score  # noqa: E402

import almanac.memory.event_recall as event_recall  # noqa: E402
from almanac.cache.local import LocalCache  # noqa: E402
from almanac.config import SearchSettings, Settings  # noqa: E402
from almanac.memory.diversity import mmr  # noqa: E402
from almanac.memory.episodes import episode, fuse_episodes  # noqa: E402
from almanac.memory.relevance import no_match, relevance  # noqa: E402
from almanac.memory.search import Hit  # noqa: E402
from almanac.state import build_state  # noqa: E402

K = 10
# Real recall, other settings: entity expansion keeps entities named in up to this share of
# memories (default 0.05 drops LoCoMo's two speakers, each in about half the turns).
# Every pass with the episode signal off: the picks add it (or not) themselves.
_EXPAND = {"entity_max_links": 10_000, "graph_weight": 0.5, "episode_weight": 0.0}
PASSES: dict[str, dict[str, Any]] = {
    "no episodes": {"episode_weight": 0.0},
    "entities 0.6": {"entity_share": 0.6, **_EXPAND},
    "entities 1.0": {"entity_share": 1.0, **_EXPAND},
    # Recall as configured: its answers are checked against the replay of the same signal.
    "default": {},
}
CHECKS = {"no episodes": "mmr (recall's pick)", "default": "session max 1.0"}
Sims = Mapping[tuple[int, int], float]


def capped(hits: list[Hit], sims: Sims, lam: float, n: int) -> list[Hit]:
    """memory.diversity's MMR (lam 1: the fused order) taking at most n from one episode;
    when too few episodes, the rest in fused order. Shown in fused order, like MMR."""
    top, low = max(h.score for h in hits), min(h.score for h in hits)
    rel = {h.id: (h.score - low) / (top - low or 1.0) for h in hits}
    closest = dict.fromkeys(rel, 0.0)
    picked: list[Hit] = []
    per: dict[Any, int] = defaultdict(int)
    while len(picked) < K:
        allowed = [h for h in hits if h not in picked and per[episode(h)] < n]
        if not allowed:
            break
        best = max(allowed, key=lambda h: (lam * rel[h.id] - (1 - lam) * closest[h.id], h.score))
        first = not picked
        picked.append(best)
        per[episode(best)] += 1
        for h in hits:
            near = sims.get((min(h.id, best.id), max(h.id, best.id)), 0.0)
            closest[h.id] = near if first else max(closest[h.id], near)
    picked += [h for h in hits if h not in picked][: K - len(picked)]
    order = {h.id: i for i, h in enumerate(hits)}
    return sorted(picked, key=lambda h: order[h.id])


def session_boost(hits: list[Hit], weight: float, agg: str, s: SearchSettings) -> list[Hit]:
    """Each hit gains weight/(rrf_k + its episode's rank), episodes ranked by the best
    (`max`: memory.episodes, recall's own code) or the three best summed (`sum3`) fused
    scores of their candidates."""
    if agg == "max":
        return fuse_episodes(hits, s.model_copy(update={"episode_weight": weight}))
    scores: dict[Any, list[float]] = defaultdict(list)
    for h in hits:
        scores[episode(h)].append(h.score)
    value = {e: max(v) if agg == "max" else sum(sorted(v)[-3:]) for e, v in scores.items()}
    rank = {e: r for r, e in enumerate(sorted(value, key=lambda e: -value[e]), start=1)}
    out = [
        replace(h, score=h.score + weight / (s.rrf_k + rank[episode(h)]) * h.boost) for h in hits
    ]
    return sorted(out, key=lambda h: (h.score, h.id), reverse=True)


def picks(s: SearchSettings) -> dict[str, Callable[[list[Hit], Sims], list[Hit]]]:
    lam, pool = s.diversity_lambda, s.diversity_candidates

    def mmr_pick(hits: list[Hit], sims: Sims) -> list[Hit]:
        return mmr(hits[:pool], sims, lam, K)

    def boosted(w: float, agg: str) -> Callable[[list[Hit], Sims], list[Hit]]:
        return lambda hits, sims: mmr_pick(session_boost(hits, w, agg, s), sims)

    return {
        "mmr (recall's pick)": mmr_pick,
        "fused order": lambda hits, sims: hits[:K],
        "episode cap 2": lambda hits, sims: capped(hits[:pool], sims, lam, 2),
        "episode cap 3": lambda hits, sims: capped(hits[:pool], sims, lam, 3),
        "session max 0.5": boosted(0.5, "max"),
        "session max 1.0": boosted(1.0, "max"),
        "session max 2.0": boosted(2.0, "max"),
        "session sum3 1.0": boosted(1.0, "sum3"),
        "cap 3 + session max 1.0": lambda hits, sims: capped(
            session_boost(hits, 1.0, "max", s)[:pool], sims, lam, 3
        ),
    }


def floored(top: list[Hit], s: SearchSettings) -> list[Hit]:
    """Recall's relevance floor (memory.local_recall) over the picked results."""
    rel = [relevance(h.similarity, h.coverage, h.runner_up, s) for h in top]
    return [] if s.relevance_floor and no_match(rel) else top


async def run(path: Path) -> dict[str, Any]:
    conv_id, turns, questions = load(path)
    captured: list[list[Hit]] = []
    real_pick: Callable[..., Awaitable[list[Hit]]] = vars(event_recall)["diversify"]

    async def spy(search: Any, hits: list[Hit], k: int, model: str, cfg: Any) -> list[Hit]:
        captured.append(list(hits))
        return await real_pick(search, hits, k, model, cfg)

    vars(event_recall)["diversify"] = spy  # recall's final pick, observed
    cands: dict[str, list[list[Hit]]] = {}
    answers: dict[str, list[list[str]]] = {}
    pass_ms: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await build_state(Settings(data_dir=Path(tmp), _env_file=None))  # type: ignore[call-arg]
        try:
            session, _ = await ingest(state, conv_id, turns)
            for name, change in PASSES.items():
                search = state.settings.search.model_copy(update=change)
                settings = state.settings.model_copy(update={"search": search})
                captured.clear()
                answers[name], pass_ms[name] = [], []
                for q in questions:
                    ids, ms = await ask(state, settings, LocalCache(), session, q.text, K)
                    pass_ms[name].append(ms)
                    answers[name].append(ids)
                cands[name] = list(captured)
            vecs = np.asarray(await state.embedder.embed([t.text for t in turns]))
            q_vecs = np.asarray(await state.embedder.embed([q.text for q in questions]))
        finally:
            vars(event_recall)["diversify"] = real_pick
            await state.close()
    row = {t.dia_id: i for i, t in enumerate(turns)}
    s = SearchSettings()
    ranked: dict[str, list[list[str]]] = {}
    replay_matches: dict[str, int] = {}
    pick_us: dict[str, list[float]] = defaultdict(list)
    for pname, per_q in cands.items():
        if pname == "default":  # recall as configured: only checked against its replay
            continue
        for kname, pick in picks(s).items():
            chosen: list[list[str]] = []
            for hits in per_q:
                ids = [h.id for h in hits]
                v = vecs[[row[h.metadata["dia_id"]] for h in hits]]
                cos = v @ v.T
                sims = {
                    (min(a, b), max(a, b)): float(cos[i, j])
                    for i, a in enumerate(ids)
                    for j, b in enumerate(ids)
                    if a < b
                }
                t0 = time.perf_counter()
                top = pick(hits, sims)
                pick_us[kname].append((time.perf_counter() - t0) * 1e6)
                chosen.append([h.metadata["dia_id"] for h in floored(top, s)])
            ranked[f"{pname} / {kname}"] = chosen
    for pname, kname in CHECKS.items():
        replayed = ranked[f"no episodes / {kname}"]
        replay_matches[pname] = sum(a == b for a, b in zip(replayed, answers[pname], strict=True))
    bm25 = BM25([t.text for t in turns])
    ranked["bm25"] = [[turns[j].dia_id for j in bm25.rank(q.text, K)] for q in questions]
    sims_q = q_vecs @ vecs.T
    ranked["vector"] = [
        [turns[j].dia_id for j in np.argsort(-r, kind="stable")[:K]] for r in sims_q
    ]
    return {
        "conversation": conv_id,
        "questions": len(questions),
        "passes": PASSES,
        "replay_matches_recall": replay_matches,
        "recall_ms": {n: {"p50": median(v), "p95": percentile(v, 95)} for n, v in pass_ms.items()},
        "pick_us_p50": {n: median(v) for n, v in pick_us.items()},
        "systems": {name: score(r, questions) for name, r in ranked.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    args = parser.parse_args()
    require_files(parser, [args.data])
    result = asyncio.run(run(args.data))
    groups = ["overall", *CATEGORIES.values()]
    rows = [(name, *(e[g]["recall@10"] for g in groups)) for name, e in result["systems"].items()]
    print_table(
        f"LoCoMo {result['conversation']}: recall@10 by final pick "
        f"({result['questions']} questions)",
        ["pass / pick", *groups],
        rows,
    )
    for name, n in result["replay_matches_recall"].items():
        print(f"{name}: the replay equals recall's answer on {n}/{result['questions']} questions")
    for name, ms in result["recall_ms"].items():
        print(f"{name}: recall p50 {ms['p50']:.1f} ms, p95 {ms['p95']:.1f} ms (in-process)")
    for name, us in result["pick_us_p50"].items():
        print(f"pick {name}: {us:.0f} us p50 (Python, cosines given)")
    print(f"wrote {write_json('recall_replay', result)}")


if __name__ == "__main__":
    main()
