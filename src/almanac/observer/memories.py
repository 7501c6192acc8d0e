"""What a reflection says of the period's memories: pure, as the report is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def summarize_memories(
    rows: Sequence[tuple[str, float, str, bool]], notable: int = 3
) -> dict[str, Any]:
    """What was remembered in the period: how many, of which kinds, the most salient few.

    The few are the user's own: the report goes to the LLM, and the reflection is
    remembered for every client's plans to recall, so a client's words stay out of both.
    """
    by_type: dict[str, int] = {}
    for event_type, *_ in rows:
        by_type[event_type] = by_type.get(event_type, 0) + 1
    own = [r for r in rows if not r[3]]
    top = sorted(own, key=lambda r: -r[1])[:notable]
    return {
        "count": len(rows),
        "by_type": dict(sorted(by_type.items())),
        "notable": [content[:200] for _, _, content, _ in top],
    }
