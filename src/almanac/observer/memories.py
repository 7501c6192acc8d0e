"""What a reflection says of the period's memories: pure, as the report is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def summarize_memories(rows: Sequence[tuple[str, float, str]], notable: int = 3) -> dict[str, Any]:
    """What was remembered in the period: how many, of which kinds, the most salient few."""
    by_type: dict[str, int] = {}
    for event_type, _, _ in rows:
        by_type[event_type] = by_type.get(event_type, 0) + 1
    top = sorted(rows, key=lambda r: -r[1])[:notable]
    return {
        "count": len(rows),
        "by_type": dict(sorted(by_type.items())),
        "notable": [content[:200] for _, _, content in top],
    }
