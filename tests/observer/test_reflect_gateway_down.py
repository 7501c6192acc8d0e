"""A reflection while the Memory Gateway (two-process mode) is away: stored, saying what
was not remembered or written, never a 503 that loses it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.port import memory_port
from almanac.models import Event, Fact
from almanac.models.observer import FactDecision, Reflection
from almanac.observer.deps import observer_service
from almanac.observer.remembering import remember_in_process
from almanac.state import AppState
from tests.memory.external.test_zep import closed_port_url
from tests.observer.conftest import workflow_runs


async def test_a_reflection_with_pattern_facts_is_stored_while_the_gateway_is_down(
    db_session: AsyncSession, state: AppState
) -> None:
    """Four runs make a pattern fact, written through the Gateway: with the Gateway down
    the whole reflection was a 503 (DependencyUnavailable), nothing stored, though its
    memory's failure was already caught and noted to keep it."""
    await workflow_runs(db_session, [1.45] * 4)
    settings = state.settings.model_copy(deep=True)
    settings.server.memory_gateway_url = closed_port_url().removesuffix("/api/v2")
    remote = replace(state, settings=settings, memory=None)
    now = datetime(2026, 10, 11, 12, tzinfo=UTC)
    service = observer_service(UnitOfWork(db_session), remote, clock=lambda: now)
    try:
        out = await service.reflect("daily", date(2026, 10, 10))
    finally:
        if remote.memory is not None:
            await remote.memory.close()
    assert out.event_id is None and "not remembered" in out.report["memory"]
    said = out.report["pattern_facts"]
    assert said.startswith("not written: Memory Gateway at") and "next reflection" in said
    assert out.report["recommendations"]  # the numbers stand
    stored = await db_session.get(Reflection, out.id, populate_existing=True)
    assert stored is not None and stored.report["pattern_facts"] == said
    for model in (Fact, FactDecision):
        assert await db_session.scalar(select(func.count()).select_from(model)) == 0
    # Queued with it: once the Gateway takes it (here the one in this process, as when the
    # job is run by `almanac serve memory`'s worker), the reflection is remembered.
    queued = await db_session.execute(
        text("SELECT args FROM procrastinate_jobs WHERE task_name = 'almanac:remember_reflection'")
    )
    assert [dict(a) for (a,) in queued] == [{"mode": "daily", "period_start": "2026-10-10"}]
    uow = UnitOfWork(db_session)
    day = date(2026, 10, 10)
    event_id = await remember_in_process(uow, memory_port(uow, state), "daily", day)
    stored = await db_session.get(Reflection, out.id, populate_existing=True)
    assert stored is not None and stored.event_id == event_id and event_id is not None
    assert "memory" not in stored.report
    memory = await db_session.get(Event, event_id)
    assert memory is not None and memory.event_type == "reflection"
    # Dated in its day (its last instant, in the reflection's zone), not when it was sent.
    end = datetime.combine(date(2026, 10, 11), time(), tzinfo=ZoneInfo(stored.timezone))
    assert memory.occurred_at == end - timedelta(microseconds=1)
    assert (
        await remember_in_process(uow, memory_port(uow, state), "daily", date(2026, 10, 10)) is None
    )
