"""A reflection's memory: what is remembered for a period, and a job that remembers it once
a remote Memory Gateway that could not take it is back.

A reflection stored while the Gateway was away kept the period's older memory (or none),
and only a later reflection of the same period replaced it: the evening's daily
reflection, made once, stayed unrecalled for good. So the failure queues a job, which
sends the stored reflection's summary, points the reflection at the new memory and
forgets the one it replaces, as a reflection that is remembered at once does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.jobs.queue import enqueue
from almanac.memory.port import MemoryPort, RemoteMemory
from almanac.memory.schemas import RememberIn
from almanac.models.observer import Reflection
from almanac.observer.narrative import reflection_summary
from almanac.observer.report import period_bounds
from almanac.observer.repository import ObserverRepository
from almanac.planner.context import REMEMBER_QUEUE

REMEMBER_REFLECTION_TASK = "almanac:remember_reflection"
EVENT_SALIENCE = 0.6  # recallable, but under the 0.7 bar: the report itself is not a fact
# What the reflection says of its own memory and facts, added after it was summarised.
_NOTES = ("memory", "pattern_facts")


def reflection_memory(
    mode: str,
    first: date,
    last: date,
    occurred_at: datetime,
    report: dict[str, Any],
    narrative: str | None,
) -> RememberIn:
    """The memory of a period's reflection, under the period's own key."""
    summary = {k: v for k, v in report.items() if k not in _NOTES}
    return RememberIn(
        content=reflection_summary(summary, narrative),
        event_type="reflection",
        event_source="observer",
        memory_scope="user",
        salience_score=EVENT_SALIENCE,
        occurred_at=occurred_at,
        metadata={"mode": mode, "period_start": first.isoformat(), "period_end": last.isoformat()},
        idempotency_key=f"reflection:{mode}:{first.isoformat()}",
    )


async def queue_remember_reflection(session: AsyncSession, mode: str, first: date) -> int:
    """Queue remembering the period's reflection, in the reflection's own transaction."""
    args = {"mode": mode, "period_start": first.isoformat()}
    return await enqueue(session, REMEMBER_REFLECTION_TASK, args=args, queue=REMEMBER_QUEUE)


def _item(row: Reflection, mode: str, first: date, seen: datetime) -> RememberIn:
    # Dated in the period (its last instant at the latest), as a reflection made at once is.
    end = period_bounds(first, mode, ZoneInfo(row.timezone))[3]
    when = min(seen, end - timedelta(microseconds=1))
    return reflection_memory(mode, first, row.period_end, when, row.report, row.narrative)


async def remember_in_process(
    uow: UnitOfWork, memory: MemoryPort, mode: str, first: date
) -> int | None:
    """The queued job's work with the Gateway in this process: in one transaction, where the
    memory under the period's key is replaced, not stored beside the old one."""
    repo = ObserverRepository(uow.session)
    row = await repo.of_period(mode, first, for_update=True)
    if row is None or "memory" not in (row.report or {}):
        return None
    event_id = await memory.remember(_item(row, mode, first, row.updated_at))
    await repo.remembered(row, event_id)
    return event_id


async def remember_stored_reflection(
    sessionmaker: async_sessionmaker[AsyncSession], memory: RemoteMemory, mode: str, first: date
) -> int | None:
    """The queued job's work: the memory the period's reflection now points at, or None
    when nothing was left to do (remembered since, or gone). No transaction is open while
    the Gateway is asked; a reflection replaced meanwhile keeps its own memory, and the one
    sent here is forgotten. A Gateway that fails raises: the job is retried."""
    async with unit_of_work(sessionmaker) as uow:
        row = await ObserverRepository(uow.session).of_period(mode, first)
        if row is None or "memory" not in (row.report or {}):
            return None
        seen = row.updated_at
        item = _item(row, mode, first, seen)
    event_id = await memory.remember(item)
    async with unit_of_work(sessionmaker) as uow:
        repo = ObserverRepository(uow.session)
        row = await repo.of_period(mode, first, for_update=True)
        # Gone, or reflected on again meanwhile: that reflection holds its own memory.
        replaced = row is None or row.updated_at != seen
        if row is not None and not replaced:
            prior = row.event_id
            await repo.remembered(row, event_id)
    if replaced:
        if row is None or row.event_id != event_id:
            await memory.forget_event(event_id)
        return None
    if prior is not None and prior != event_id:
        await memory.forget_event(prior)
    return event_id
