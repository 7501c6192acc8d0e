"""Reflecting again on a period, with the Memory Gateway in another process: the Gateway
cannot replace a memory under its key (a changed one is stored under the key and its
digest), so the earlier reflection's memory stayed beside the new one and recall found
both weeks' numbers, the stale and the current. Real commits throughout: the Gateway's
delete waits for the reflection's row, which a test's rolled-back transaction never frees."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import unit_of_work
from almanac.errors import DependencyUnavailable
from almanac.jobs.context import set_state
from almanac.memory.port import RemoteMemory
from almanac.models import Event, Task
from almanac.models.observer import Reflection
from almanac.observer.schemas import ReflectionOut
from almanac.observer.tasks import remember_reflection
from almanac.state import AppState
from tests.memory.test_gateway_hop import gateway, planner
from tests.observer.conftest import MONDAY, fixture_week
from tests.observer.test_reflect import observer

__all__ = ["gateway", "planner"]  # the real Gateway process, and the Planner on it


async def _reflect(state: AppState, day: date) -> ReflectionOut:
    async with unit_of_work(state.sessionmaker) as uow:
        return await observer(uow, state).reflect("weekly", day)


async def _reflections(state: AppState) -> list[Event]:
    async with state.sessionmaker() as session:
        stmt = select(Event).where(Event.event_type == "reflection").order_by(Event.id)
        return list((await session.scalars(stmt)).all())


async def _reflected_then_changed(planner: AppState) -> ReflectionOut:
    """The fixture week reflected on (remembered), then one of its tasks done: the week's
    next reflection says something else. The first reflection."""
    async with unit_of_work(planner.sessionmaker) as uow:
        week = await fixture_week(uow.session)
        call = week["tasks"]["call"].id
    first = await _reflect(planner, MONDAY)
    assert first.event_id is not None, first.report.get("memory")
    async with unit_of_work(planner.sessionmaker) as uow:
        await uow.session.execute(update(Task).where(Task.id == call).values(status="done"))
    return first


async def test_a_changed_reflection_replaces_its_memory_on_a_remote_gateway(
    planner: AppState,
) -> None:
    first = await _reflected_then_changed(planner)
    second = await _reflect(planner, date(2026, 11, 15))
    assert second.event_id is not None and second.event_id != first.event_id
    events = await _reflections(planner)
    # One memory for the period: the current one, not the stale one beside it.
    assert [e.id for e in events] == [second.event_id], [e.content[:80] for e in events]
    assert "3 done" in events[0].content
    # Nothing changed: the same memory, nothing forgotten.
    third = await _reflect(planner, MONDAY)
    assert third.event_id == second.event_id
    assert [e.id for e in await _reflections(planner)] == [second.event_id]
    async with planner.sessionmaker() as session:
        await _jobs_done(session)


async def test_a_reflection_while_the_gateway_is_away_leaves_no_stale_memory_behind(
    planner: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reflecting again while the Gateway was away stored the reflection without a memory
    and forgot which memory the period had: once the Gateway was back, the next reflection
    stored a new one beside the stale one, and recall found both days' numbers."""
    first = await _reflected_then_changed(planner)

    async def away(self: RemoteMemory, item: object) -> int:
        raise DependencyUnavailable("Memory Gateway at http://gateway unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(RemoteMemory, "remember", away)
        during = await _reflect(planner, MONDAY)
    assert "not remembered" in during.report["memory"]
    # The period's memory is still the one it had (stale, and the report says so).
    assert during.event_id == first.event_id
    after = await _reflect(planner, MONDAY)
    assert after.event_id not in (None, first.event_id)
    events = await _reflections(planner)
    assert [e.id for e in events] == [after.event_id], [e.content[:80] for e in events]
    async with planner.sessionmaker() as session:
        await _jobs_done(session)


async def _jobs_done(session: AsyncSession, within: float = 60.0) -> None:
    """Wait out the Gateway's worker (the memories' jobs it queued): emptying the tables
    after the test while a job reads them deadlocks."""
    stmt = text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
    deadline = time.monotonic() + within
    while (await session.scalar(stmt)) and time.monotonic() < deadline:
        await session.rollback()  # a fresh snapshot each time
        await asyncio.sleep(0.2)


async def test_a_reflection_not_remembered_is_remembered_by_a_job_once_the_gateway_is_back(
    planner: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only another reflection of the same period replaced a memory the Gateway could not
    take: the evening's daily reflection, made once, was never recalled. Now a job queued
    with it remembers it, and the period's stale memory goes."""
    first = await _reflected_then_changed(planner)

    async def away(self: RemoteMemory, item: object) -> int:
        raise DependencyUnavailable("Memory Gateway at http://gateway unreachable")

    held: list[tuple[str, dict[str, Any]]] = []

    async def hold(session: object, task: str, *, args: dict[str, Any], **_: object) -> int:
        # Held here, not queued: the Gateway's own worker would run it at once.
        held.append((task, args))
        return 0

    with monkeypatch.context() as patched:
        patched.setattr(RemoteMemory, "remember", away)
        patched.setattr("almanac.observer.remembering.enqueue", hold)
        during = await _reflect(planner, MONDAY)
    assert "remembering it is queued" in during.report["memory"]
    args = {"mode": "weekly", "period_start": MONDAY.isoformat()}
    assert held == [("almanac:remember_reflection", args)]
    set_state(planner)
    try:
        await remember_reflection.func(**args)  # type: ignore[attr-defined]
        async with planner.sessionmaker() as session:
            row = await session.get(Reflection, during.id)
        await remember_reflection.func(**args)  # type: ignore[attr-defined]  # a rerun
    finally:
        set_state(None)
    assert row is not None and "memory" not in row.report
    assert row.event_id not in (None, first.event_id)
    async with planner.sessionmaker() as session:
        rerun = await session.get(Reflection, during.id)
    assert rerun is not None and rerun.event_id == row.event_id  # the rerun changed nothing
    events = await _reflections(planner)
    # One memory for the period, the reflection's as stored (3 done), the stale one gone.
    assert [e.id for e in events] == [row.event_id], [e.content[:80] for e in events]
    assert "3 done" in events[0].content
    async with planner.sessionmaker() as session:
        await _jobs_done(session)
