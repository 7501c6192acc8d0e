"""Query reduction and memory priors in recall: names or question-frame words taken out of
the query, a prior against memories that only ask, and context vectors, measured against
recall as configured, BM25 and vector alone, in one run.

Usage: .venv/bin/python bench/recall_reduction.py [--data PATH/26.json] [--only PREFIX ...]

Each variant is real recall over the same memories as bench/memory_recall.py with one
part of recall changed (patched here while the bench runs; src is unchanged):

- Names apart (`topic-*`; query reduction, Kumaran and Carvalho 2009). A transcript memory
  starts with its speaker and a question names its person; with a static embedder the name
  is a large share of a short query's mean vector. The topic is the query without its
  names (capitalised words inside a sentence, memory.entities' `alias_words`):
  `topic-list w` fuses one more first-pass search with the topic (words and vector) at
  weight `w`; `topic-vec` gives the first pass the topic's vector (the words stay);
  `topic-vec-all` uses the topic's vector everywhere recall uses one; `topic-late` has
  late interaction score the topic.
- Question frame apart (`frame-*`). "What kind of art", "what types of pottery", "in what
  ways" frame the answer; in a memory those words are another use ("your kind words",
  "what type of music do you play?"). `frame-text` drops them from the first pass's
  words, `frame-all` from the whole recall (words, vector, late interaction).
- A prior against asking (`qprior g`; document priors, Kraaij et al. 2002). A memory whose
  sentences are questions states little to recall: each first-pass hit's boost (the
  salience/recency multiplier, kept through every later fusion) is multiplied by
  1 - g * (its share of sentences ending in "?", speaker and captions aside).
- Context vectors (`pair*`; contextual chunk embeddings). Each memory's vector with the
  memory before it in its session (computed here, not stored) ranks every memory:
  `pair w` fuses that ranking as one more first-pass list (weight w); `pairsum a` replaces
  the vector list by the ranking by cosine + a * context cosine, `pairmax` by the larger
  of the two. `pair w=0` checks that the patch alone leaves recall as it is.

Reported: recall@10 per category, and recall p50/p95 per variant in ms (in-process,
variants interleaved question by question, on ~400 memories: not the cost at scale).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_BENCH, require_files, write_json  # noqa: E402
from memory_recall import Turn, chosen, compare, print_comparison  # noqa: E402

import almanac.memory.event_recall as event_recall  # noqa: E402
import almanac.memory.local_recall as local_recall  # noqa: E402
from almanac.memory.entities import alias_words, normalise  # noqa: E402
from almanac.memory.search import Hit, SearchRepository  # noqa: E402
from almanac.memory.search_sql import EventFilters  # noqa: E402

K = 10
VARIANTS: dict[str, tuple[str, float]] = {
    "almanac": ("none", 0.0),
    "topic-list w=0.5": ("list", 0.5),
    "topic-list w=1": ("list", 1.0),
    "topic-vec": ("vec", 0.0),
    "topic-vec-all": ("vec-all", 0.0),
    "topic-late": ("late", 0.0),
    "frame-text": ("frame-text", 0.0),
    "frame-all": ("frame-all", 0.0),
    "qprior 0.3": ("qprior", 0.3),
    "qprior 0.5": ("qprior", 0.5),
    "qprior 0.7": ("qprior", 0.7),
    "pair w=0": ("pair", 0.0),
    "pair w=0.5": ("pair", 0.5),
    "pair w=1": ("pair", 1.0),
    "pairsum a=0.5": ("pairsum", 0.5),
    "pairsum a=1": ("pairsum", 1.0),
    "pairmax": ("pairmax", 0.0),
}
_current: tuple[str, float] = ("none", 0.0)
# Each memory's context vector (unit length), by dia_id: set up once after ingestion.
PAIR: dict[str, Any] = {}
_WORD = re.compile(r"[\w'’-]+|[^\w\s]+")
# Words that frame a question's answer rather than say what it is about.
FRAME = frozenset("kind kinds type types sort sorts ways".split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CAPTION = re.compile(r"\[[^\]]*\]")
_SPEAKER = re.compile(r"^[^:\n]{1,60}:\s")


def _join(tokens: list[str]) -> str:
    return re.sub(r"\s+([^\w\s])", r"\1", " ".join(tokens))


def topic(query: str) -> str:
    """The query without its names (capitalised words inside a sentence)."""
    names = set(alias_words(query))
    words = _WORD.findall(query)
    kept = [t for t in words if not t[0].isalpha() or normalise(t) not in names]
    return query if len(kept) == len(words) else _join(kept)


def unframed(query: str) -> str:
    """The query without the words that frame its answer ("kind", "types"...)."""
    words = _WORD.findall(query)
    kept = [t for t in words if t.lower() not in FRAME]
    return query if len(kept) == len(words) else _join(kept)


def asking(content: str) -> float:
    """The share of a memory's sentences that are questions (speaker and captions aside)."""
    body = _CAPTION.sub(" ", _SPEAKER.sub("", content, count=1)).strip()
    sentences = [x for x in _SENTENCE.split(body) if x.strip()]
    return sum(x.rstrip().endswith("?") for x in sentences) / max(1, len(sentences))


def fuse_list(first: list[Hit], extra: list[Hit], w: float, rrf_k: int, pool: int) -> list[Hit]:
    """`first` with `extra`'s reciprocal ranks (weight w) added; new hits join; best `pool`."""
    gain = {h.id: w / (rrf_k + r) for r, h in enumerate(extra, start=1)}
    out = [replace(h, rrf=h.rrf + gain.get(h.id, 0.0)) for h in first]
    seen = {h.id for h in first}
    out += [replace(h, rrf=gain[h.id]) for h in extra if h.id not in seen]
    out = [replace(h, score=h.rrf * h.boost) for h in out]
    out.sort(key=lambda h: (h.score, h.id), reverse=True)
    return out[:pool]


def with_prior(hits: list[Hit], g: float) -> list[Hit]:
    """Each hit's boost times 1 - g * (its share of questions), best first."""
    out = []
    for h in hits:
        b = h.boost * (1 - g * asking(h.content))
        out.append(replace(h, boost=b, score=h.rrf * b))
    out.sort(key=lambda h: (h.score, h.id), reverse=True)
    return out


Search = Callable[..., Awaitable[list[Hit]]]


def _context_lists(search: SearchRepository, original: Search, mode: str, w: float) -> Search:
    """The first pass with the context vectors' ranking fused in (see the docstring)."""

    async def first_pass(
        q: str, v: list[float], model: str, dim: int, k: int, f: Any, pool: int | None = None
    ) -> list[Hit]:
        first = await original(q, v, model, dim, k, f, pool)
        if mode == "pair" and w <= 0:
            return first
        s = search.settings
        # Every row under the filter with its first-pass evidence (the bench's ~400).
        every = await original(q, v, model, dim, 1000, f, 1000)
        qn = np.asarray(v) / np.linalg.norm(v)
        ctx = [float(PAIR[h.metadata["dia_id"]] @ qn) for h in every]
        gain: dict[int, float] = {}
        if mode == "pair":
            ranking, weight = ctx, w
        else:  # the vector list's part out, the combined ranking's in
            own = [h.similarity or 0.0 for h in every]
            vorder = sorted(range(len(every)), key=lambda i: -own[i])[: s.candidates]
            for r, i in enumerate(vorder, start=1):
                gain[every[i].id] = -s.vector_weight / (s.rrf_k + r)
            pairs = zip(own, ctx, strict=True)
            ranking = [a + w * b for a, b in pairs] if mode == "pairsum" else list(map(max, pairs))
            weight = s.vector_weight
        order = sorted(range(len(every)), key=lambda i: -ranking[i])[: s.candidates]
        for r, i in enumerate(order, start=1):
            gain[every[i].id] = gain.get(every[i].id, 0.0) + weight / (s.rrf_k + r)
        base = {h.id: h for h in first}
        out = [
            replace(base.get(h.id, h), rrf=base.get(h.id, h).rrf + gain.get(h.id, 0.0))
            for h in every
            if h.id in base or gain.get(h.id, 0.0) > 0
        ]
        out = [replace(h, score=h.rrf * h.boost) for h in out]
        out.sort(key=lambda h: (h.score, h.id), reverse=True)
        return out[: len(first)]

    return first_pass


_recall_events = event_recall.recall_events


async def recall_events(
    search: SearchRepository,
    embedder: Any,
    query: str,
    qvec: list[float],
    k: int,
    filters: EventFilters,
    pool_out: list[Hit] | None = None,
) -> list[Hit]:
    """memory.event_recall's recall_events with the running variant's change."""
    mode, w = _current
    t = topic(query) if mode in ("list", "vec", "vec-all", "late") else unframed(query)
    if mode == "none" or (not mode.startswith(("qprior", "pair")) and t == query):
        return await _recall_events(search, embedder, query, qvec, k, filters, pool_out)
    tvec = [float(x) for x in await embedder.embed_query(t)] if t != query else qvec
    if mode in ("vec-all", "frame-all"):  # vec-all: the query's words, the topic's vector
        q = t if mode == "frame-all" else query
        return await _recall_events(search, embedder, q, tvec, k, filters, pool_out)
    original: Search = search.search_events
    late = embedder.late_interaction

    async def first_pass(q: str, v: list[float], *args: Any, **kw: Any) -> list[Hit]:
        if mode == "vec":
            return await original(q, tvec, *args, **kw)
        if mode == "frame-text":
            return await original(t, v, *args, **kw)
        first = await original(q, v, *args, **kw)
        if mode == "qprior":
            return with_prior(first, w)
        if mode == "list":
            return fuse_list(
                first, await original(t, tvec, *args, **kw), w, search.settings.rrf_k, len(first)
            )
        return first

    async def late_interaction(q: str, texts: Any) -> Any:
        return await late(t if mode == "late" else q, texts)

    patched = _context_lists(search, original, mode, w) if mode.startswith("pair") else first_pass
    search.search_events = patched  # type: ignore[method-assign]
    embedder.late_interaction = late_interaction
    try:
        return await _recall_events(search, embedder, query, qvec, k, filters, pool_out)
    finally:
        del search.search_events
        del embedder.late_interaction


async def _context_vectors(state: Any, turns: list[Turn]) -> None:
    """Each turn's vector with the turn before it in its session (same date here)."""
    texts = [
        (turns[i - 1].text + "\n" if i and turns[i - 1].at == t.at else "") + t.text
        for i, t in enumerate(turns)
    ]
    for t, v in zip(turns, await state.embedder.embed(texts), strict=True):
        PAIR[t.dia_id] = v / (float(np.linalg.norm(v)) or 1.0)


def _choose(name: str | None) -> None:
    global _current
    _current = ("none", 0.0) if name is None else VARIANTS[name]


async def run(path: Path, names: list[str]) -> dict[str, Any]:
    """Route recall through the variant under test (at run time, not on import: a test that
    imports this module leaves recall alone)."""
    local_recall.recall_events = recall_events  # type: ignore[assignment]
    try:
        return await compare(path, names, _choose, _context_vectors, K)
    finally:
        local_recall.recall_events = _recall_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "locomo-dev" / "26.json")
    parser.add_argument("--only", nargs="*", default=[], help="variant name prefixes")
    args = parser.parse_args()
    require_files(parser, [args.data])
    names = chosen(VARIANTS, args.only)
    out = asyncio.run(run(args.data, names))
    print_comparison(out, "with query reduction and memory priors", K)
    print(f"wrote {write_json('recall_reduction', out)}")


if __name__ == "__main__":
    main()
