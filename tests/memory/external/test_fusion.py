"""Fusing the provider's results with the local ones (pure)."""

from __future__ import annotations

from almanac.memory.external.base import ExternalHit
from almanac.memory.external.fusion import fuse
from almanac.memory.schemas import Kind, RecallHit


def local_hit(kind: Kind, hit_id: int, content: str, relevance: float) -> RecallHit:
    return RecallHit(
        id=hit_id,
        kind=kind,
        content=content,
        score=0.0,
        source="postgres",
        occurred_at=None,
        session_id=None,
        metadata={},
        relevance=relevance,
    )


def test_local_results_of_different_kinds_with_the_same_id_are_all_kept():
    """Events, facts and document chunks number their ids apart. Fusion keyed results by id
    alone, so with Zep answering, event 7 was lost behind chunk 7: over HTTP the one hit
    above the relevance floor vanished and only unrelated ones were answered."""
    local = [
        local_hit("document", 7, "The retainer is 11,000 euros a month.", 0.2),
        local_hit("event", 7, "Plan: marketing ops sprint for Acme", 0.9),
        local_hit("fact", 7, "Acme's budget owner is Dana", 0.1),
    ]
    zep = [ExternalHit(ref="edge-1", kind="fact", content="Acme prefers Slack", score=0.4)]
    fused = fuse(local, zep, {"event", "fact", "document"}, k=10, rrf_k=60)
    assert sorted((h.kind, h.id) for h in fused if h.source == "postgres") == [
        ("document", 7),
        ("event", 7),
        ("fact", 7),
    ]
    by_content = {h.content: h for h in fused}
    assert by_content["Plan: marketing ops sprint for Acme"].relevance == 0.9
    assert by_content["Acme prefers Slack"].source == "zep"
    # Each kept its own rank: the first local result is still first.
    assert fused[0].kind == "document" and fused[0].id == 7
    assert len(fused) == 4


def test_a_provider_message_saying_what_a_local_event_says_is_not_repeated():
    local = [
        local_hit("event", 3, "Acme signed the renewal", 0.8),
        local_hit("document", 3, "Renewal terms: twelve months", 0.6),
    ]
    zep = [ExternalHit(ref="ep-1", kind="message", content="acme  signed the RENEWAL", score=1.0)]
    fused = fuse(local, zep, {"event", "document"}, k=10, rrf_k=60)
    assert [(h.kind, h.id, h.source) for h in fused] == [
        ("event", 3, "postgres"),
        ("document", 3, "postgres"),
    ]
    assert fused[0].score > fused[1].score
