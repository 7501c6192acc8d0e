"""bench/recall_lists.py's list intent and reorders: what each decides, on texts written
here (the bench's figures rest on them)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from bench.recall_lists import list_intent, speaker, speaker_prf, with_prior

from almanac.config import SearchSettings
from almanac.memory.search import Hit


def _hit(id_: int, content: str, score: float) -> Hit:
    return Hit(
        id_,
        "event",
        content,
        score,
        datetime(2026, 1, 5, tzinfo=UTC),
        "s",
        {"dia_id": f"D{id_}"},
        None,
        rrf=score,
    )


def test_list_intent_reads_the_form_not_the_topic() -> None:
    lists = [
        "What books has Priya read?",  # plural wh-phrase, perfect
        "What instruments does Tom play?",  # plural wh-phrase
        "In what ways is Ana helping?",  # plural after a preposition
        "How many children does Tom have?",
        "What are Tom's pets' names?",  # verb agrees with a plural
        "Where has Ana camped?",  # perfect: done more than once
        "What musical artists/bands has Tom seen?",
    ]
    singles = [
        "What did Ana research?",
        "When did Tom go to the museum?",
        "What is Ana's relationship status?",
        "What business does Ana run?",  # a singular noun ending in s
        "Would Tom enjoy hiking?",  # no wh-word
        "Which class does Ana take?",
    ]
    assert [q for q in lists if not list_intent(q)] == []
    assert [q for q in singles if list_intent(q)] == []


def test_speaker_is_the_transcript_prefix_normalised() -> None:
    assert speaker("Melanie: I went swimming.") == "melanie"
    assert speaker("No speaker here") is None


def test_with_prior_lowers_only_what_asks() -> None:
    asks = _hit(1, "Ana: Where is it?", 0.030)
    says = _hit(2, "Ana: It is in the shed.", 0.025)
    assert [h.id for h in with_prior([asks, says], 0.5)] == [2, 1]
    assert [h.id for h in with_prior([asks, says], 0.0)] == [1, 2]


def test_speaker_prf_moves_the_named_persons_hits_near_the_seeds() -> None:
    # Three seeds said by Ana, then two more of hers and one by Tom, all at one score.
    hits = [_hit(i, f"Ana: seed {i}", 0.05) for i in (1, 2, 3)]
    hits += [_hit(4, "Ana: far", 0.01), _hit(5, "Ana: near", 0.01), _hit(6, "Tom: near", 0.01)]
    e = np.eye(3)
    vecs = {"D1": e[0], "D2": e[0], "D3": e[0], "D4": e[1], "D5": e[0], "D6": e[0]}
    s = SearchSettings()
    out = speaker_prf(hits, "What has Ana done?", e[2], vecs, 1.0, s)
    assert [h.id for h in out][3:] == [5, 4, 6]  # Ana's near one first; Tom's gains nothing
    assert next(h for h in out if h.id == 6).score == 0.01
    # A query naming no one who spoke leaves the order alone.
    same = speaker_prf(hits, "What has Bo done?", e[2], vecs, 1.0, s)
    assert [h.id for h in same] == [1, 2, 3, 4, 5, 6]
