"""Match an intent to the Pattern Ontology: which workflow or blueprint fits best.

Semantic similarity (the embedder's cosine) carries most of the score; the share of the
intent's content words found in the workflow's text breaks ties between near neighbours
and rescues short intents the embedding is unsure about.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almanac.embedder import Embedder
from almanac.embedder.base import Vectors
from almanac.planner.repository import Candidate

SEMANTIC_WEIGHT = 0.75
BLUEPRINT_MARGIN = 0.05
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from i in into is it me my of on or our plan please the "
    "this to up we with need needs want set do make new next get".split()
)
# Workflow vectors keyed by (model, kind, id, updated_at): a changed row gets a new key.
_MEMO: OrderedDict[tuple[str, str, int, str], Vectors] = OrderedDict()
_MEMO_MAX = 20_000
_IDF: dict[tuple[tuple[str, int, str], ...], dict[str, float]] = {}


@dataclass(frozen=True, slots=True)
class Match:
    """A workflow or blueprint and how well it fits the intent (0..1)."""

    candidate: Candidate
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


def _terms(text: str) -> set[str]:
    words = [w for w in _WORD.findall(text.lower()) if len(w) > 1]
    terms = {_stem(w) for w in words if w not in _STOP}
    # "kick off" should meet "kickoff", "follow up" "follow-up".
    terms.update(_stem(a + b) for a, b in zip(words, words[1:], strict=False))
    return terms


def lexical_overlap(intent: str, text: str, idf: dict[str, float] | None = None) -> float:
    """The IDF-weighted share of the intent's content words (roughly stemmed) in `text`.

    With `idf`, a word found in many workflows ("client", "week") counts less than a rare
    one; words in no workflow count most, so an unrelated intent scores near zero.
    """
    wanted = {_stem(w) for w in content_words(intent)}
    if idf:
        # Joined pairs count only when the library uses them ("kick off" -> "kickoff").
        wanted |= {t for t in _terms(intent) - wanted if t in idf}
    if not wanted:
        return 0.0
    have = _terms(text)
    default = max(idf.values(), default=1.0) if idf else 1.0
    weight = {w: (idf or {}).get(w, default) for w in wanted}
    total = sum(weight.values())
    return sum(weight[w] for w in wanted if w in have) / total if total else 0.0


def document_frequencies(texts: Sequence[str]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term over the candidates' texts."""
    counts: dict[str, int] = {}
    for text in texts:
        for term in _terms(text):
            counts[term] = counts.get(term, 0) + 1
    n = len(texts)
    return {term: math.log((n + 1) / (c + 0.5)) for term, c in counts.items()}


async def _vectors(embedder: Embedder, candidates: Sequence[Candidate]) -> Vectors:
    keys = [(embedder.model, s.kind, s.id, s.updated_key) for s in candidates]
    missing = [i for i, key in enumerate(keys) if key not in _MEMO]
    if missing:
        fresh = await embedder.embed([candidates[i].text for i in missing])
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
    embedder: Embedder, intent: str, candidates: Sequence[Candidate], *, limit: int = 5
) -> list[Match]:
    """The best `limit` candidates for `intent`, best first."""
    if not candidates:
        return []
    query = await embedder.embed_query(intent)
    semantic = (await _vectors(embedder, candidates)) @ query
    idf = _idf(candidates)
    matches = []
    for candidate, cos in zip(candidates, semantic, strict=True):
        lexical = lexical_overlap(intent, candidate.text, idf)
        score = SEMANTIC_WEIGHT * float(cos) + (1 - SEMANTIC_WEIGHT) * lexical
        if candidate.kind == "blueprint":
            # A blueprint is a whole engagement of several workflows: it must fit clearly
            # better than any single workflow to be chosen over one.
            score -= BLUEPRINT_MARGIN
        matches.append(Match(candidate, round(score, 4), round(float(cos), 4), round(lexical, 4)))
    matches.sort(key=lambda m: (-m.score, m.candidate.kind != "workflow", m.candidate.id))
    return matches[:limit]


def _idf(candidates: Sequence[Candidate]) -> dict[str, float]:
    key = tuple((s.kind, s.id, s.updated_key) for s in candidates)
    cached = _IDF.get(key)
    if cached is None:
        cached = document_frequencies([s.text for s in candidates])
        _IDF.clear()  # one library at a time
        _IDF[key] = cached
    return cached
