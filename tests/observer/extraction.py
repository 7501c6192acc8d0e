"""What the fact-extraction tests share: one salient note, the LLM's good answer, and the
decisions recorded for an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event
from almanac.state import AppState

CONTENT = "Acme's finance team wants invoices by the 5th of each month, in EUR."
FACT = {
    "subject_type": "client",
    "subject_id": "acme",
    "fact_type": "preference",
    "category": "invoicing",
    "content": "Acme wants invoices by the 5th of each month, in EUR.",
    "salience": 0.8,
}
GOOD = {"facts": [FACT]}


async def add_salient_event(session: AsyncSession, content: str = CONTENT) -> int:
    """A note salient enough for extraction, flushed (the caller commits)."""
    event = Event(
        event_type="note",
        event_source="test",
        content=content,
        salience_score=0.9,
        memory_scope="user",
    )
    session.add(event)
    await session.flush()
    return int(event.id)


async def decisions(state: AppState, event_id: int) -> list[tuple[Any, ...]]:
    """The (source, decision) pairs recorded for an event, committed ones only."""
    async with state.engine.connect() as conn:
        sql = text("SELECT source, decision FROM fact_decisions WHERE event_id = :e")
        return [tuple(r) for r in await conn.execute(sql, {"e": event_id})]
