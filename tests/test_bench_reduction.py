"""bench/recall_reduction.py's query reductions and prior: what each takes out or weighs,
on texts written here (the bench's figures rest on them)."""

from __future__ import annotations

from datetime import UTC, datetime

import bench.recall_reduction as recall_reduction
from bench.recall_reduction import asking, fuse_list, topic, unframed, with_prior

from almanac.memory.search import Hit


def _hit(id_: int, content: str = "x", rrf: float = 0.0, boost: float = 1.0) -> Hit:
    return Hit(
        id_,
        "event",
        content,
        rrf * boost,
        datetime(2026, 1, 5, tzinfo=UTC),
        "s",
        {},
        None,
        rrf=rrf,
        boost=boost,
    )


def test_topic_drops_the_names_inside_the_question_only() -> None:
    assert topic("What has Melanie painted?") == "What has painted?"
    assert topic("What do Melanie's kids like?") == "What do kids like?"
    # No name inside a sentence: the query as given, not re-spaced.
    assert topic('When did she read "Nothing is impossible"?') == (
        'When did she read "Nothing is impossible"?'
    )


def test_unframed_drops_the_frame_words_and_nothing_else() -> None:
    assert unframed("What kind of art does Caroline make?") == "What of art does Caroline make?"
    assert unframed("In what ways is she taking part?") == "In what is she taking part?"
    assert unframed("Which kindness did she show?") == "Which kindness did she show?"


def test_asking_is_the_share_of_questions_speaker_and_captions_aside() -> None:
    assert asking("Melanie: Cool! What type of music do you play?") == 0.5
    assert asking("Priya: Did you send it? Is it paid?") == 1.0
    # A question mark in the caption or a colon in the speaker's line is not a question.
    assert asking("Caroline: I went there. [image: what? a sign]") == 0.0
    assert asking("Note without a speaker: sent the invoice.") == 0.0


def test_with_prior_lowers_memories_that_only_ask_and_keeps_the_boost() -> None:
    asks = _hit(1, "Ana: Where is it?", rrf=0.030, boost=1.2)
    says = _hit(2, "Ana: It is in the shed.", rrf=0.025)
    out = with_prior([asks, says], 0.5)
    assert [h.id for h in out] == [2, 1]
    assert out[1].boost == 0.6 and out[1].score == 0.030 * 0.6
    assert [h.id for h in with_prior([asks, says], 0.0)] == [1, 2]


def test_fuse_list_adds_ranks_lets_new_hits_join_and_cuts_to_the_pool() -> None:
    first = [_hit(1, rrf=0.020), _hit(2, rrf=0.019), _hit(3, rrf=0.005)]
    extra = [_hit(3), _hit(9)]
    out = fuse_list(first, extra, 1.0, 60, 3)
    assert [h.id for h in out] == [3, 1, 2]  # 3 gained 1/61; 9 (1/62) falls past the pool
    assert abs(out[0].rrf - (0.005 + 1 / 61)) < 1e-12
    assert [h.id for h in fuse_list(first, extra, 1.0, 60, 4)] == [3, 1, 2, 9]
    assert [h.id for h in fuse_list(first, extra, 0.0, 60, 3)] == [1, 2, 3]


def test_importing_the_bench_leaves_recall_alone() -> None:
    import almanac.memory.local_recall as local_recall

    assert local_recall.recall_events is not recall_reduction.recall_events
