"""Per-operation model, temperature and token limit chosen at run time.

Settings give each operation its model and token limit at start; the dashboard (or
`PUT /api/v1/planner/llm/operations/{operation}`) may override them while Almanac runs.
The client reads the override before each call, from Postgres: one primary-key read on a
table of at most four rows costs well under a millisecond beside a call of seconds, and
every process sees a change at once without a cache to invalidate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.llm.repository import LLMTuningRepository

logger = logging.getLogger(__name__)

OPERATIONS = ("planning", "scheduling", "reflection", "extraction")


@dataclass(frozen=True)
class OperationTuning:
    """What was chosen for one operation; None means "as configured"."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


NO_TUNING = OperationTuning()


class TuningSource(Protocol):
    async def get(self, operation: str) -> OperationTuning: ...


class StoredTuning:
    """Reads the choices in their own short transaction (a call runs outside any request's)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def get(self, operation: str) -> OperationTuning:
        try:
            async with self.sessionmaker() as session:
                row = await LLMTuningRepository(session).get(operation)
        except Exception:
            # The database being down must not cost the call its answer: use the settings.
            logger.warning("could not read the LLM choices for %s; using settings", operation)
            return NO_TUNING
        if row is None:
            return NO_TUNING
        return OperationTuning(row.model, row.temperature, row.max_tokens)
