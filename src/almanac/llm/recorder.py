"""Persist LLM call records in Postgres."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.llm.base import LLMCallRecord
from almanac.llm.repository import LLMCallRepository


class DatabaseRecorder:
    """A `CallRecorder` that writes each record in its own short transaction.

    Its own transaction, because a call must stay on record (tokens were spent) even when
    the request that made it fails and rolls back.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def record(self, record: LLMCallRecord) -> None:
        async with self.sessionmaker() as session:
            await LLMCallRepository(session).record(record)
            await session.commit()
