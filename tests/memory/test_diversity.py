"""Maximal marginal relevance (memory.diversity): a near-copy of a hit does not crowd out
a second, different memory the question needs."""

from __future__ import annotations

from almanac.memory.diversity import mmr
from almanac.memory.schemas import RecallQuery, RememberIn
from almanac.memory.search import Hit
from tests.memory.signals import service


def hit(i: int, score: float) -> Hit:
    return Hit(i, "event", f"m{i}", score, None, None, {}, None)


def test_mmr_picks_the_different_memory_over_the_near_copy():
    hits = [hit(1, 1.0), hit(2, 0.97), hit(3, 0.9), hit(4, 0.5)]
    sims = {(1, 2): 0.99, (1, 3): 0.2, (2, 3): 0.2, (1, 4): 0.1, (2, 4): 0.1, (3, 4): 0.1}
    assert [h.id for h in mmr(hits, sims, 0.7, 2)] == [1, 3]
    # lambda 1 is relevance alone; the picks keep the fused order.
    assert [h.id for h in mmr(hits, sims, 1.0, 2)] == [1, 2]
    assert [h.id for h in mmr(hits, {}, 0.7, 3)] == [1, 2, 3]
    assert mmr(hits[:2], sims, 0.7, 5) == hits[:2]


async def test_recall_keeps_two_distinct_memories_over_a_near_duplicate(
    db_session, embedder, settings
):
    plain = service(db_session, embedder, settings, diversity_lambda=1)
    contents = [
        "The boiler service is booked for Tuesday morning",
        "The boiler service is booked for Tuesday morning, reminder",
        "At the boiler service the engineer will also replace the pressure valve",
        "We bought a new sofa for the living room",
        "The garden fence was painted green",
        "The library books are due back on Friday",
        "My sister called about the holiday plans",
    ]
    result = await plain.remember_many([RememberIn(content=c) for c in contents])
    first, copy, valve = result.ids[:3]
    q = RecallQuery(query="When is the boiler service?", k=2, kinds=["event"], floor=False)

    without = [h.id for h in (await plain.recall(q)).results]
    diverse = service(db_session, embedder, settings)
    with_mmr = [h.id for h in (await diverse.recall(q)).results]
    assert set(without) == {first, copy}  # the near-copy takes the second place...
    assert len(set(with_mmr) & {first, copy}) == 1 and valve in with_mmr  # ...not with MMR
