"""Late interaction fused as a third list (memory.rerank)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from almanac.config import SearchSettings
from almanac.embedder.base import Embedder, Vectors
from almanac.memory.rerank import fuse_rank, pool_size, rerank
from almanac.memory.search import Hit


def hit(i: int, rrf: float, content: str = "", boost: float = 1.0) -> Hit:
    now = datetime.now(UTC)
    return Hit(i, "event", content, rrf * boost, now, None, {}, None, rrf=rrf, boost=boost)


def test_the_reranker_rank_is_one_more_reciprocal_rank_term():
    s = SearchSettings(rrf_k=60, rerank_weight=1.0)
    hits = [hit(1, 0.0200), hit(2, 0.0199), hit(3, 0.0198)]
    out = fuse_rank(hits, [0.1, 0.2, 0.9], s)
    # Close in the first pass, the order follows late interaction...
    assert [h.id for h in out] == [3, 2, 1]
    assert abs(out[0].score - (0.0198 + 1 / 61)) < 1e-12
    # ...but it is one list among three: a clear first-pass lead stays.
    apart = fuse_rank([hit(1, 0.030), hit(2, 0.020)], [0.1, 0.9], s)
    assert [h.id for h in apart] == [1, 2]
    # Salience and recency still multiply the whole fused score.
    boosted = fuse_rank([hit(1, 2 / 61, boost=2.0), hit(2, 2 / 61)], [0.5, 0.5], s)
    assert boosted[0].id == 1 and abs(boosted[0].score - 2 * (2 / 61 + 1 / 61)) < 1e-12


def test_pool_is_k_when_the_reranker_is_off():
    assert pool_size(10, SearchSettings(rerank_weight=0)) == 10
    assert pool_size(10, SearchSettings(rerank_candidates=100)) == 100
    assert pool_size(300, SearchSettings(rerank_candidates=100)) == 300


class NoTokens(Embedder):
    model, dim = "remote", 3

    async def embed(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("not needed")


async def test_an_embedder_without_token_vectors_leaves_the_order(embedder):
    hits = [hit(1, 0.0200, "the invoice for Acme"), hit(2, 0.0199, "painting a sunset")]
    assert await rerank(NoTokens(), "what did I paint?", hits, SearchSettings()) == hits
    # The local embedder has them: the painting memory moves up.
    out = await rerank(embedder, "what did I paint?", hits, SearchSettings())
    assert [h.id for h in out] == [2, 1]


async def test_a_second_rerank_scores_only_the_hits_new_to_it(embedder):
    seen: list[str] = []

    class Counting:  # the real embedder, counting the texts it is asked to score
        async def late_interaction(self, query: str, texts: Sequence[str]) -> list[float] | None:
            seen.extend(texts)
            return await embedder.late_interaction(query, texts)

    counting: Any = Counting()
    s = SearchSettings()
    first = [hit(1, 0.02, "the boiler service"), hit(2, 0.019, "a new kettle")]
    known: dict[int, float] = {}
    await rerank(counting, "boiler", first, s, known)
    again = await rerank(counting, "boiler", [*first, hit(3, 0.018, "boiler valve")], s, known)
    assert seen == ["the boiler service", "a new kettle", "boiler valve"]
    # The same order as scoring everything afresh.
    fresh = await rerank(embedder, "boiler", [*first, hit(3, 0.018, "boiler valve")], s)
    assert [h.id for h in again] == [h.id for h in fresh]
