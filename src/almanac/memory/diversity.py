"""Maximal marginal relevance: which k of the fused candidates recall returns.

A question whose answer spans several memories ("what did she paint, and when?") loses
the second one when near-copies of the first fill the top k. MMR (Carbonell and Goldstein,
1998) picks the k greedily: each next pick maximises
`lambda * relevance - (1 - lambda) * (its highest cosine to a pick already made)`, where
relevance is the fused score scaled to [0, 1] over the candidates looked at (the best
`diversity_candidates`). `diversity_lambda` is set up front at 0.7, the usual value that
still favours relevance; 1 turns it off. The picks keep the fused order when shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from almanac.config import SearchSettings
from almanac.memory.search import Hit, SearchRepository

TABLES = {"event": "events", "fact": "facts", "document": "doc_chunks"}


def mmr(
    hits: Sequence[Hit], sims: Mapping[tuple[int, int], float], lam: float, k: int
) -> list[Hit]:
    """The k hits MMR picks, in the order given (best first)."""
    if len(hits) <= k:
        return list(hits)
    top, low = max(h.score for h in hits), min(h.score for h in hits)
    span = top - low or 1.0
    rel = {h.id: (h.score - low) / span for h in hits}

    def sim(a: int, b: int) -> float:
        return sims.get((a, b) if a < b else (b, a), 0.0)

    picked: list[Hit] = []
    rest = list(hits)
    closest = dict.fromkeys(rel, 0.0)  # each hit's highest cosine to a pick (0: none yet)
    while rest and len(picked) < k:
        best = max(rest, key=lambda h: (lam * rel[h.id] - (1 - lam) * closest[h.id], h.score))
        first = not picked
        picked.append(best)
        rest.remove(best)
        for h in rest:
            near = sim(h.id, best.id)
            closest[h.id] = near if first else max(closest[h.id], near)
    order = {h.id: i for i, h in enumerate(hits)}
    return sorted(picked, key=lambda h: order[h.id])


def wanted(hits: Sequence[Hit], k: int, s: SearchSettings) -> bool:
    """Whether MMR has a choice to make (on, and more hits than k)."""
    return s.diversity_lambda < 1 and len(hits) > k


async def diversify(
    search: SearchRepository,
    hits: list[Hit],
    k: int,
    model: str,
    s: SearchSettings,
    sims: Mapping[tuple[int, int], float] | None = None,
) -> list[Hit]:
    """The best k hits of one kind, picked by MMR among the best `diversity_candidates`
    (`sims`: their pairwise cosines when the caller has them, else read here)."""
    if not wanted(hits, k, s):
        return hits[:k]
    pool = hits[: max(k, s.diversity_candidates)]
    if sims is None:
        sims = await search.similarities(TABLES[pool[0].kind], [h.id for h in pool], model)
    return mmr(pool, sims, s.diversity_lambda, k)
