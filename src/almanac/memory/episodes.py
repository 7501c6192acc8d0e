"""Recall's episode signal: session-level evidence as one more list in the fusion.

Memories said in one sitting explain each other: "They loved the dinosaurs" is about the
museum trip two turns earlier, and an episode that holds the best match for a question is
more likely than any other to hold the rest of the answer (the cluster hypothesis of
retrieval; passage retrieval uses its document's score the same way). Here an episode is
the memories of one session on one day (`session_id`, and `occurred_at`'s date); a memory
with no session is an episode of its own. Recall ranks the episodes found among its
candidates by their best fused score, and each candidate gains `episode_weight` divided by
(`rrf_k` + its episode's rank), like every other list: weight 1 is one retriever's.
Only candidates recall already found under its own filter move, so nothing new enters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from almanac.config import SearchSettings
from almanac.memory.search import Hit

Episode = tuple[str, date | None] | int


def episode(h: Hit) -> Episode:
    """The episode of a hit: its session and day, or its own id without a session."""
    if h.session_id is None:
        return h.id
    return h.session_id, h.occurred_at.date() if h.occurred_at else None


def fuse_episodes(hits: Sequence[Hit], s: SearchSettings) -> list[Hit]:
    """Each hit gains episode_weight/(rrf_k + its episode's rank), best first."""
    if s.episode_weight <= 0 or len(hits) < 2:
        return list(hits)
    best: dict[Episode, float] = {}
    for h in hits:
        e = episode(h)
        best[e] = max(best.get(e, h.score), h.score)
    order = sorted(best, key=lambda e: -best[e])  # stable: ties keep the hits' order
    rank = {e: r for r, e in enumerate(order, start=1)}
    out = []
    for h in hits:
        gain = s.episode_weight / (s.rrf_k + rank[episode(h)])
        out.append(replace(h, rrf=h.rrf + gain, score=h.score + gain * h.boost))
    out.sort(key=lambda h: (h.score, h.id), reverse=True)
    return out
