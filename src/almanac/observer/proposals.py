"""What a fact proposal is before it is decided: the extraction prompt, the judge of the
LLM's answer, the metadata fallback, the order proposals are written in, and what is
recorded of one."""

from __future__ import annotations

import json
import re
from typing import Any

from almanac.llm.base import Message
from almanac.models import Event
from almanac.observer.judge import judge_narrative
from almanac.observer.schemas import RawFacts

_SUBJECT_KEYS = ("subject_type", "subject_id", "fact_type")
_ANSWER_SHAPE = (
    'Answer as {"facts": [{"subject_type": "...", "subject_id": "...", "fact_type": '
    '"preference|constraint|identity|pattern|result", "category": "... or null", '
    '"content": "one sentence", "salience": 0.0-1.0}]}'
)


def extraction_messages(
    system: str, *, content: str, metadata: dict[str, Any], header: str
) -> list[Message]:
    """The extraction prompt: the template, then the memory and its metadata."""
    user = (
        f"Memory ({header}):\n{content}\n\n"
        f"Metadata: {json.dumps(metadata, default=str)}\n\n{_ANSWER_SHAPE}"
    )
    return [Message("system", system), Message("user", user)]


def judge_facts(answer: RawFacts, source: dict[str, Any]) -> list[str]:
    """Why the extractor's proposals are nonsense (empty: they are worth deciding on).

    A fact may only state figures found in the memory it comes from, may not repeat a
    sentence, and the same fact may not be proposed twice.
    """
    reasons: list[str] = []
    contents = [str(p.get("content", "")) for p in answer.facts]
    keys = [" ".join(c.casefold().split()) for c in contents]
    if len(set(keys)) < len(keys):
        reasons.append("the same fact is proposed more than once")
    for content in contents:
        for why in judge_narrative(content, source, source="the memory"):
            reasons.append(f"{content[:40]!r} {why}")
    return reasons


def metadata_proposal(event: Event) -> dict[str, Any] | None:
    """A proposal from an event whose metadata names its subject, else None."""
    meta = event.metadata_ or {}
    if not all(isinstance(meta.get(k), str) and meta.get(k) for k in _SUBJECT_KEYS):
        return None
    proposal = {k: meta[k] for k in _SUBJECT_KEYS}
    proposal["content"] = event.content
    proposal["salience"] = event.salience_score
    if isinstance(meta.get("category"), str) and meta["category"]:
        proposal["category"] = meta["category"]
    return proposal


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` with what Postgres JSON cannot hold (a NUL, a lone surrogate) replaced by
    U+FFFD: a rejected proposal is recorded as it came, bar those characters."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
