"""A comparable relevance in [0, 1] for recall hits, and the floor below which recall says
it found nothing.

RRF scores rank but do not compare across queries, and the local embedder's cosine alone
cannot tell a never-mentioned subject from a real one (both sit around 0.8-0.9). Two pieces
of evidence together can: how much of the query's IDF mass a hit holds (a word no memory
holds counts at full weight, so "the VAT number on the Acme invoice" is mostly uncovered),
and a cosine well above the embedder's background -- or well above the next-nearest
memory's (a paraphrase with no shared word, "puppy exercise" for "walk the dog", stands
out from the rest even when the absolute cosine is low). Each maps linearly to [0, 1] with
0.5 at its threshold; a hit's relevance is the stronger of the two, and a query whose best hit
stays under 0.5 has no match (bench/recall_floor.py measures both error rates).
"""

from __future__ import annotations

import unicodedata

from almanac.config import SearchSettings

FLOOR = 0.5
NOTHING_TO_SEARCH = (
    "the query holds no letter or digit (only emoji, symbols, punctuation or invisible "
    "characters): recall searches words and numbers, so nothing was searched"
)


def relevance(
    similarity: float | None, coverage: float, runner_up: float | None, s: SearchSettings
) -> float:
    """0.5 exactly at any threshold, 1 at full coverage or identical vectors."""
    lexical = min(1.0, max(0.0, coverage) / (2 * s.floor_coverage))
    semantic = standout = 0.0
    if similarity is not None:
        span = 2 * (1 - s.floor_similarity)
        semantic = min(1.0, max(0.0, (similarity - (1 - span)) / span))
        if runner_up is not None:
            standout = min(1.0, max(0.0, similarity - runner_up) / (2 * s.floor_margin))
    return round(max(lexical, semantic, standout), 4)


def no_match(relevances: list[float]) -> bool:
    """True when no hit reaches the floor (including when there are no hits)."""
    return not any(r >= FLOOR for r in relevances)


def searchable(query: str) -> bool:
    """Whether a query holds a letter or a digit. Without one there is no word to match and
    the embedder reads it as empty text: the same vector for "😀" as for a zero-width
    space, whose nearest memory stood out from the next and was scored a perfect 1.0."""
    return any(unicodedata.category(c)[0] in "LN" for c in query)
