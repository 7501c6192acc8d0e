"""Match an intent to the Pattern Ontology: which workflow or blueprint fits best.

Semantic similarity (the embedder's cosine) carries most of the score; the share of the
intent's content words found in the workflow's text breaks ties between near neighbours
and rescues short intents the embedding is unsure about.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almanac.embedder import Embedder
from almanac.embedder.base import Vectors
from almanac.planner.repository import Skeleton

SEMANTIC_WEIGHT = 0.75
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from i in into is it me my of on or our plan please the "
    "this to up we with need needs want set do make new next get".split()
)
# Workflow vectors keyed by (model, kind, id, updated_at): a changed row gets a new key.
_MEMO: OrderedDict[tuple[str, str, int, str], Vectors] = OrderedDict()
_MEMO_MAX = 20_000


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate skeleton and how well it fits the intent (0..1)."""

    skeleton: Skeleton
    score: float
    semantic: float
    lexical: float


def content_words(text: str) -> set[str]:
    """Lower-case words that carry meaning (stop words and 1-letter words dropped)."""
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP}


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def lexical_overlap(intent: str, text: str) -> float:
    """The share of the intent's content words (roughly stemmed) present in `text`."""
    wanted = {_stem(w) for w in content_words(intent)}
    if not wanted:
        return 0.0
    have = {_stem(w) for w in content_words(text)}
    return len(wanted & have) / len(wanted)


async def _vectors(embedder: Embedder, skeletons: Sequence[Skeleton]) -> Vectors:
    keys = [(embedder.model, s.kind, s.id, s.updated_key) for s in skeletons]
    missing = [i for i, key in enumerate(keys) if key not in _MEMO]
    if missing:
        fresh = await embedder.embed([skeletons[i].text for i in missing])
        for row, i in enumerate(missing):
            _MEMO[keys[i]] = fresh[row]
        while len(_MEMO) > _MEMO_MAX:
            _MEMO.popitem(last=False)
    return (
        np.stack([_MEMO[key] for key in keys])
        if keys
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )


async def rank(
    embedder: Embedder, intent: str, skeletons: Sequence[Skeleton], *, limit: int = 5
) -> list[Match]:
    """The best `limit` skeletons for `intent`, best first."""
    if not skeletons:
        return []
    query = await embedder.embed_query(intent)
    semantic = (await _vectors(embedder, skeletons)) @ query
    matches = []
    for skeleton, cos in zip(skeletons, semantic, strict=True):
        lexical = lexical_overlap(intent, skeleton.text)
        score = SEMANTIC_WEIGHT * float(cos) + (1 - SEMANTIC_WEIGHT) * lexical
        matches.append(Match(skeleton, round(score, 4), round(float(cos), 4), round(lexical, 4)))
    matches.sort(key=lambda m: (-m.score, m.skeleton.kind != "workflow", m.skeleton.id))
    return matches[:limit]
