"""Forgetting a client drops what the observer derived from its work: the pattern facts of
the workflows it ran (every version) and their decisions, and its slipped tasks in stored
reflections, in the forget's transaction; the next reflection learns the patterns anew."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.background import install_forgetters
from almanac.db.uow import UnitOfWork, unit_of_work
from almanac.memory.forgetting import forget_subject
from almanac.memory.invalidation import Invalidator
from almanac.models import ExecutionRun, Fact, Plan, ProcessTemplate, Task, Workflow
from almanac.models.observer import FactDecision, Reflection
from almanac.observer.deps import observer_service
from almanac.observer.repository import ObserverRepository
from almanac.state import AppState
from tests.interleave import stop_inside
from tests.observer.conftest import SUNDAY_EVENING, at, fixture_week, workflow_runs

CLIENT = 31
NOW = datetime(2026, 10, 11, 12, tzinfo=UTC)


async def client_runs(session: AsyncSession, wf: Workflow, ratio: float, days: range) -> None:
    """An approved plan of CLIENT on `wf` per day of October in `days`, each run once at
    `ratio` times the estimate."""
    for i in days:
        tpl = ProcessTemplate(name=f"client {i}", workflow_id=wf.id, checklist=[])
        session.add(tpl)
        await session.flush()
        plan = Plan(
            plan_title="Onboarding",
            intent="onboard",
            sop={},
            status="approved",
            client_id=CLIENT,
            process_template_id=tpl.id,
        )
        session.add(plan)
        await session.flush()
        for m, (key, est) in enumerate((("draft", 2.0), ("polish", 2.5))):
            t = Task(
                process_template_id=tpl.id,
                plan_id=plan.id,
                plan_task_key=key,
                title=key,
                estimate_hours=est,
                status="done",
                client_id=CLIENT,
            )
            session.add(t)
            await session.flush()
            begin = datetime(2026, 10, i, 9 + m * 4, tzinfo=UTC)
            session.add(
                ExecutionRun(
                    process_template_id=tpl.id,
                    task_id=t.id,
                    status="completed",
                    started_at=begin,
                    ended_at=begin + timedelta(hours=est * ratio),
                    estimated_hours=est,
                    actual_hours=est * ratio,
                )
            )
    await session.flush()


async def patterns(session: AsyncSession) -> dict[str, list[str]]:
    """Per workflow id, the contents of every version of its pattern fact."""
    rows = await session.scalars(
        select(Fact).where(Fact.subject_type == "workflow").order_by(Fact.id)
    )
    out: dict[str, list[str]] = {}
    for f in rows:
        out.setdefault(f.subject_id, []).append(f.content)
    return out


async def test_forgetting_a_client_drops_the_patterns_its_runs_are_counted_in(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    install_forgetters()
    shared = await workflow_runs(db_session, [1.0] * 4)
    await client_runs(db_session, shared, 2.0, range(5, 9))
    alone = await workflow_runs(db_session, [1.2] * 4, name="Quarterly review")
    observer = observer_service(uow, state, clock=lambda: NOW)
    await observer.reflect("daily", date(2026, 10, 10))
    # More of the client's runs: the next reflection's fact supersedes the first.
    await client_runs(db_session, shared, 2.0, range(9, 11))
    await observer.reflect("daily", date(2026, 10, 11))
    before = await patterns(db_session)
    assert [c.split(" runs")[0][-2:] for c in before[str(shared.id)]] == [" 8", "10"]
    kept = before[str(alone.id)]
    assert kept and all("from 4 runs" in c for c in kept)
    (p,) = [p for p in await observer.patterns() if p.workflow_id == shared.id]
    assert p.runs == 10 and [c.client_id for c in p.client_estimates] == [CLIENT]

    out = await forget_subject(
        uow, Invalidator(state.cache), state.settings.data_dir / "retention", "client", "31"
    )
    after = await patterns(db_session)
    assert str(shared.id) not in after  # nothing counting the client's runs is left
    assert out.deleted["derived_facts"] == 2
    assert after[str(alone.id)] == kept  # a workflow it never ran keeps its pattern
    decisions = (await db_session.scalars(select(FactDecision))).all()
    assert decisions and not [
        d
        for d in decisions
        if " runs" in d.proposal["content"] and d.proposal["subject_id"] == str(shared.id)
    ]
    (p,) = [p for p in await observer.patterns() if p.workflow_id == shared.id]
    assert p.runs == 4 and p.client_estimates == []

    # The next reflection learns the pattern again from the runs left.
    await observer.reflect("daily", date(2026, 10, 11))
    again = await patterns(db_session)
    assert [("from 4 runs" in c) for c in again[str(shared.id)]] == [True]


async def test_forgetting_a_client_takes_its_slipped_tasks_out_of_stored_reflections(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    install_forgetters()
    week = await fixture_week(db_session)
    week["plan"].client_id = CLIENT
    design = week["tasks"]["design"]  # slips: due Wednesday, not done
    design.client_id, design.title = CLIENT, "Design the Zorblax rebrand"
    other = Task(title="Own admin", status="todo", deadline=at(3, 12), estimate_hours=1)
    db_session.add(other)
    await db_session.flush()
    out = await observer_service(uow, state, clock=lambda: SUNDAY_EVENING).reflect(
        "weekly", date(2026, 11, 12)
    )
    titles = [s["title"] for s in out.report["slipped"]]
    assert titles == ["Design the Zorblax rebrand", "Own admin"]

    gone = await forget_subject(
        uow, Invalidator(state.cache), state.settings.data_dir / "retention", "client", "31"
    )
    row = await db_session.get(Reflection, out.id, populate_existing=True)
    assert row is not None
    assert [s["title"] for s in row.report["slipped"]] == ["Own admin"]
    assert "Zorblax" not in json.dumps(row.report) + (row.narrative or "")
    assert row.report["numbers"] == out.report["numbers"]  # totals name no one
    assert gone.deleted["reflections_changed"] == 1


async def test_a_reflection_under_way_counts_none_of_a_client_forgotten_meanwhile(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reflection has read the runs when the client is forgotten (committed before the
    reflection writes): its pattern fact counts the runs left, not the forgotten ones."""
    state = committed_state
    install_forgetters()
    async with state.sessionmaker() as session:
        shared = await workflow_runs(session, [1.0] * 4)
        await client_runs(session, shared, 2.0, range(5, 9))
        await session.commit()
        shared_id = str(shared.id)

    async def forget_client() -> httpx.Response:
        return await committed_client.delete(f"/api/v1/memory/subjects/client/{CLIENT}")

    # The runs are read; the memories read next is where the forget runs.
    forgets = stop_inside(monkeypatch, ObserverRepository, "memories", forget_client, state)
    async with unit_of_work(state.sessionmaker) as uow:
        await observer_service(uow, state, clock=lambda: NOW).reflect("daily", date(2026, 10, 10))
    assert len(forgets) == 1
    r = await forgets[0]
    assert r.status_code == 200, r.text
    async with state.sessionmaker() as session:
        found = await patterns(session)
    assert [("from 4 runs" in c) for c in found.get(shared_id, [])] == [True], found


async def test_a_reflection_under_way_stores_nothing_of_a_client_forgotten_meanwhile(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reflection has read the week when the client is forgotten (committed before the
    reflection writes): the stored report names none of its tasks, as a forget's rewrite
    of the stored reflections leaves them."""
    state = committed_state
    install_forgetters()
    async with state.sessionmaker() as session:
        week = await fixture_week(session)
        week["plan"].client_id = CLIENT
        design = week["tasks"]["design"]  # slips: due Wednesday, not done
        design.client_id, design.title = CLIENT, "Design the Zorblax rebrand"
        session.add(Task(title="Own admin", status="todo", deadline=at(3, 12), estimate_hours=1))
        await session.commit()

    async def forget_client() -> httpx.Response:
        return await committed_client.delete(f"/api/v1/memory/subjects/client/{CLIENT}")

    forgets = stop_inside(monkeypatch, ObserverRepository, "memories", forget_client, state)
    async with unit_of_work(state.sessionmaker) as uow:
        out = await observer_service(uow, state, clock=lambda: SUNDAY_EVENING).reflect(
            "weekly", date(2026, 11, 12)
        )
    assert len(forgets) == 1
    r = await forgets[0]
    assert r.status_code == 200, r.text
    async with state.sessionmaker() as session:
        row = await session.get(Reflection, out.id)
    assert row is not None
    assert [s["title"] for s in row.report["slipped"]] == ["Own admin"]
    assert "Zorblax" not in json.dumps(row.report) + (row.narrative or "")
