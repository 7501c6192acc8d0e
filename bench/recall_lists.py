"""List questions in recall: questions that ask for several things, told by their form,
with their own final ordering, on the development conversation and on held-out ones.

Usage: .venv/bin/python bench/recall_lists.py [--data PATH/26.json [PATH/30.json ...]]

The first --data file is the development conversation; any others are held out (the other
LoCoMo conversations, `data/locomo10.zip` of snap-research/locomo, one JSON file each, as
26.json). Multi-hop questions are mostly lists ("What activities does Melanie partake
in?"), answered by turns spread over sessions. A question asks for a list (`list_intent`)
when, by its form alone, it counts ("how many"), its wh-phrase ends in a plural noun ("what
books", "in what ways"), or its verb agrees with a plural or is perfect ("what are", "what
has she painted", "where has she camped": done more than once). No word of a topic counts.

How: each conversation is ingested as in bench/memory_recall.py and every question asked
through real recall twice (as configured, and with the episode signal off), recording the
fused candidates recall hands to its final pick (memory.diversity), as bench/recall_replay.py
does. Each variant then reorders a list question's candidates offline and picks with
recall's own MMR (other questions keep recall's pick), so a variant moves list questions
only; `all:` variants move every question, for comparison:

- `no episodes`: the candidates of the pass without the episode signal;
- `cap n`: MMR taking at most n results from one episode (recall_replay's `capped`);
- `qprior g`: each candidate's score times 1 - g * its share of sentences that ask
  (recall_reduction's `asking`): a list is answered by what was said, not asked;
- `speaker prf w`: pseudo-relevance feedback restricted to the person the query names: the
  mean vector of the best 3 candidates said by them, added to the query's vector, ranks
  that person's other candidates as one more reciprocal-rank list of weight w.

Reported per group (development; held-out, all their questions together): recall@10 per
category for recall as configured (its real answers), its replay (recall's MMR pick and
relevance floor over the observed candidates), each variant, and BM25 and vector alone over
the same turns.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_BENCH, print_table, require_files, write_json  # noqa: E402
from memory_recall import BM25, CATEGORIES, Question, ask, ingest, load  # noqa: E402
from recall_reduction import asking  # noqa: E402
from recall_replay import capped, floored  # noqa: E402

import almanac.memory.event_recall as event_recall  # noqa: E402
from almanac.cache.local import LocalCache  # noqa: E402
from almanac.config import SearchSettings, Settings  # noqa: E402
from almanac.memory.diversity import mmr  # noqa: E402
from almanac.memory.entities import alias_words, normalise  # noqa: E402
from almanac.memory.search import Hit  # noqa: E402
from almanac.state import build_state  # noqa: E402

K = 10
PASSES = {"default": {}, "no episodes": {"episode_weight": 0.0}}
_WORDS = re.compile(r"[A-Za-z0-9+/'’-]+")
_WH = frozenset("what which where who whom how".split())
_AUX = frozenset(
    "is are was were does do did has have had can could will would should might may".split()
)
_SPEAKER = re.compile(r"^([^:\n]{1,60}):\s")
Vectors = dict[str, np.ndarray]


def list_intent(question: str) -> bool:
    """Whether the question asks for several things, by its form (see the docstring)."""
    words = [w.lower() for w in _WORDS.findall(question)]
    if words[:2] == ["how", "many"]:
        return True
    wh = next((i for i, w in enumerate(words[:3]) if w in _WH), None)
    if wh is None:
        return False
    aux = next((j for j in range(wh + 1, len(words)) if words[j] in _AUX), None)
    if aux is None:
        return False
    if words[aux] in ("are", "were", "have", "has"):
        return True
    head = words[aux - 1].split("/")[0] if aux > wh + 1 else ""
    return len(head) > 3 and head.endswith("s") and not head.endswith(("ss", "'s", "’s"))


def speaker(content: str) -> str | None:
    """A transcript memory's speaker, normalised ("Melanie: ..." -> "melanie")."""
    m = _SPEAKER.match(content)
    return normalise(m.group(1)) if m else None


def with_prior(hits: list[Hit], g: float) -> list[Hit]:
    """Each hit's score times 1 - g * (its share of asking sentences), best first."""
    out = [replace(h, score=h.score * (1 - g * asking(h.content))) for h in hits]
    return sorted(out, key=lambda h: (h.score, h.id), reverse=True)


def speaker_prf(
    hits: list[Hit], query: str, qvec: np.ndarray, vecs: Vectors, w: float, s: SearchSettings
) -> list[Hit]:
    """The hits with one more list: the named person's candidates (past the best 3, the
    seeds) ranked by cosine to the query's vector plus the seeds' mean vector."""
    names = alias_words(query)
    said = [h for h in hits if (p := speaker(h.content)) and any(p.startswith(n) for n in names)]
    seeds, rest = said[:3], said[3:]
    if not seeds or not rest:
        return hits
    target = qvec + np.mean([vecs[h.metadata["dia_id"]] for h in seeds], axis=0)
    order = sorted(rest, key=lambda h: -float(vecs[h.metadata["dia_id"]] @ target))
    gain = {h.id: w / (s.rrf_k + r) for r, h in enumerate(order, start=1)}
    out = [replace(h, score=h.score + gain.get(h.id, 0.0) * h.boost) for h in hits]
    return sorted(out, key=lambda h: (h.score, h.id), reverse=True)


@dataclass
class Asked:
    """One question's candidates per pass and recall's real answer."""

    question: Question
    qvec: np.ndarray
    cands: dict[str, list[Hit]]
    answer: list[str]


Reorder = Callable[[Asked, Vectors], tuple[str, list[Hit] | None]]


def variants(s: SearchSettings) -> dict[str, tuple[bool, Reorder]]:
    """name -> (list questions only, reorder): a pass's candidates, or the picked hits."""

    def prior(g: float) -> Reorder:
        return lambda a, v: ("default", with_prior(a.cands["default"], g))

    def prf(w: float, g: float = 0.0) -> Reorder:
        def go(a: Asked, v: Vectors) -> tuple[str, list[Hit] | None]:
            hits = speaker_prf(a.cands["default"], a.question.text, a.qvec, v, w, s)
            return "default", with_prior(hits, g) if g else hits

        return go

    def cap(n: int) -> Reorder:
        def go(a: Asked, v: Vectors) -> tuple[str, list[Hit] | None]:
            hits = a.cands["default"][: s.diversity_candidates]
            return "picked", capped(hits, _sims(hits, v), s.diversity_lambda, n)

        return go

    out: dict[str, tuple[bool, Reorder]] = {
        "no episodes": (True, lambda a, v: ("no episodes", None)),
        "cap 2": (True, cap(2)),
        "cap 3": (True, cap(3)),
    }
    for g in (0.3, 0.5):
        out[f"qprior {g}"] = (True, prior(g))
        out[f"all: qprior {g}"] = (False, prior(g))
    for w in (0.3, 0.5):
        out[f"speaker prf {w}"] = (True, prf(w))
        out[f"all: speaker prf {w}"] = (False, prf(w))
    out["qprior 0.3 + speaker prf 0.3"] = (True, prf(0.3, 0.3))
    return out


def _sims(hits: list[Hit], vecs: Vectors) -> dict[tuple[int, int], float]:
    """Pairwise cosines of the hits MMR looks at (recall reads the same from pgvector)."""
    top = hits[:50]
    m = np.asarray([vecs[h.metadata["dia_id"]] for h in top])
    cos = m @ m.T
    return {
        (min(a.id, b.id), max(a.id, b.id)): float(cos[i, j])
        for i, a in enumerate(top)
        for j, b in enumerate(top)
        if i < j
    }


def pick(hits: list[Hit], vecs: Vectors, s: SearchSettings) -> list[str]:
    """recall's MMR pick among the best diversity_candidates, and its relevance floor."""
    pool = hits[: max(K, s.diversity_candidates)]
    return ids(mmr(pool, _sims(pool, vecs), s.diversity_lambda, K), s)


def ids(top: list[Hit], s: SearchSettings) -> list[str]:
    """The picked hits' turns, none when recall's relevance floor says no match."""
    return [h.metadata["dia_id"] for h in floored(top, s)]


async def capture(path: Path) -> tuple[list[Asked], Vectors, dict[str, list[list[str]]]]:
    """Every question through real recall once per pass, its candidates observed."""
    conv_id, turns, questions = load(path)
    seen: list[list[Hit]] = []
    real = vars(event_recall)["diversify"]

    async def spy(search: Any, hits: list[Hit], k: int, model: str, cfg: Any) -> list[Hit]:
        seen.append(list(hits))
        return await real(search, hits, k, model, cfg)

    asked = [Asked(q, np.zeros(0), {}, []) for q in questions]
    vars(event_recall)["diversify"] = spy
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        state = await build_state(Settings(data_dir=Path(tmp), _env_file=None))  # type: ignore[call-arg]
        try:
            session, _ = await ingest(state, conv_id, turns)
            for name, change in PASSES.items():
                search = state.settings.search.model_copy(update=change)
                settings = state.settings.model_copy(update={"search": search})
                for a in asked:
                    seen.clear()
                    ids, _ = await ask(state, settings, LocalCache(), session, a.question.text, K)
                    a.cands[name] = seen[0] if seen else []
                    if name == "default":
                        a.answer = ids
            tv = np.asarray(await state.embedder.embed([t.text for t in turns]))
            qv = np.asarray(await state.embedder.embed([q.text for q in questions]))
        finally:
            vars(event_recall)["diversify"] = real
            await state.close()
    for a, v in zip(asked, qv, strict=True):
        a.qvec = v
    vecs = {t.dia_id: tv[i] for i, t in enumerate(turns)}
    bm25 = BM25([t.text for t in turns])
    baselines = {
        "bm25": [[turns[j].dia_id for j in bm25.rank(q.text, K)] for q in questions],
        "vector": [
            [turns[int(j)].dia_id for j in (-r).argsort(kind="stable")[:K]] for r in qv @ tv.T
        ],
    }
    return asked, vecs, baselines


def ranked(asked: list[Asked], vecs: Vectors, s: SearchSettings) -> dict[str, list[list[str]]]:
    """Each system's top k per question (recall, its replay, every variant)."""
    out: dict[str, list[list[str]]] = {"almanac": [a.answer for a in asked]}
    out["replay"] = [pick(a.cands["default"], vecs, s) for a in asked]
    for name, (lists_only, reorder) in variants(s).items():
        rows = []
        for a, base in zip(asked, out["replay"], strict=True):
            if (lists_only and not list_intent(a.question.text)) or not a.cands["default"]:
                rows.append(base)
                continue
            kind, hits = reorder(a, vecs)
            if kind == "picked":
                rows.append(ids(hits or [], s))
            else:
                rows.append(pick(hits if hits is not None else a.cands[kind], vecs, s))
        out[name] = rows
    return out


def recall_at_k(rows: list[list[str]], questions: list[Question]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for top, q in zip(rows, questions, strict=True):
        f = len(q.gold & set(top[:K])) / len(q.gold)
        for g in ("overall", CATEGORIES[q.category]):
            groups.setdefault(g, []).append(f)
    return {g: float(np.mean(v)) for g, v in groups.items()}


async def run(paths: list[Path]) -> dict[str, Any]:
    s = SearchSettings()
    groups: dict[str, dict[str, list[list[str]]]] = {}
    questions: dict[str, list[Question]] = {}
    for i, path in enumerate(paths):
        asked, vecs, baselines = await capture(path)
        group = "development" if i == 0 else "held-out"
        rows = {**ranked(asked, vecs, s), **baselines}
        for name, r in rows.items():
            groups.setdefault(group, {}).setdefault(name, []).extend(r)
        questions.setdefault(group, []).extend(a.question for a in asked)
        print(f"{path.name}: {len(asked)} questions", flush=True)
    return {
        "conversations": [p.name for p in paths],
        "list_intent": {
            g: {
                CATEGORIES[c]: sum(list_intent(q.text) for q in qs if q.category == c)
                / max(1, sum(q.category == c for q in qs))
                for c in CATEGORIES
            }
            for g, qs in questions.items()
        },
        "systems": {
            g: {n: recall_at_k(r, questions[g]) for n, r in rows.items()}
            for g, rows in groups.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[SHARED_BENCH / "locomo-dev" / "26.json"]
    )
    args = parser.parse_args()
    require_files(parser, args.data)
    result = asyncio.run(run(args.data))
    cols = ["overall", *CATEGORIES.values()]
    for group, systems in result["systems"].items():
        print_table(
            f"LoCoMo {group}: recall@{K}",
            ["system", *cols],
            [(n, *(e.get(c, float("nan")) for c in cols)) for n, e in systems.items()],
        )
    print("share of questions with list intent:", result["list_intent"])
    print(f"wrote {write_json('recall_lists', result)}")


if __name__ == "__main__":
    main()
