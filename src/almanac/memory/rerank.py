"""Late interaction as a third ranked list in recall's fusion, over the top candidates only.

The first pass (memory.search) fuses the vector and the full-text rankings in Postgres and
returns its best `rerank_candidates` rows. The embedder then scores each of them by MaxSim:
every query token finds its most similar token in the memory, which matches "painted" with
"painting" or "books" with "novel" where BM25 needs the same lexeme and one pooled vector
blurs a long memory. That score ranks the candidates once more, and the rank joins the
fusion as one more reciprocal-rank term (a rank, not the raw score, so that it weighs like
the other two lists). An embedder without token vectors (a remote API) leaves the order
as it was.
"""

from __future__ import annotations

from dataclasses import replace

from almanac.config import SearchSettings
from almanac.embedder.base import Embedder
from almanac.memory.search import Hit


def pool_size(k: int, s: SearchSettings) -> int:
    """How many first-pass hits a kind returns for the reranker (k when it is off)."""
    return max(k, s.rerank_candidates) if s.rerank_weight > 0 else k


def fuse_rank(hits: list[Hit], scores: list[float], s: SearchSettings) -> list[Hit]:
    """Each hit's score gains weight/(rrf_k + its rank by `scores`), best first."""
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
    rank = {i: r for r, i in enumerate(order, start=1)}
    fused = [
        replace(h, score=(h.rrf + s.rerank_weight / (s.rrf_k + rank[i])) * h.boost)
        for i, h in enumerate(hits)
    ]
    fused.sort(key=lambda h: (h.score, h.id), reverse=True)
    return fused


async def rerank(
    embedder: Embedder,
    query: str,
    hits: list[Hit],
    s: SearchSettings,
    known: dict[int, float] | None = None,
) -> list[Hit]:
    """The hits reordered with late interaction fused in (unchanged without token vectors).

    `known`: scores of this query against hits already scored (by id), filled in here, so
    a second rerank of the same kind scores only the hits new to it."""
    if s.rerank_weight <= 0 or len(hits) < 2:
        return hits
    memo = known if known is not None else {}
    todo = [h for h in hits if h.id not in memo]
    if todo:
        scores = await embedder.late_interaction(query, [h.content for h in todo])
        if scores is None:
            return hits
        memo.update(zip((h.id for h in todo), scores, strict=True))
    return fuse_rank(hits, [memo[h.id] for h in hits], s)
