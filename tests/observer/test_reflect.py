"""Reflections against the database: a fixture week checked by hand, replacement, zones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.port import memory_port
from almanac.memory.schemas import FactIn
from almanac.models import Event, ExecutionRun, Fact, Task
from almanac.models.observer import FactDecision, Reflection
from almanac.observer.deps import observer_service
from almanac.observer.service import ObserverService
from almanac.state import AppState
from tests.observer.conftest import MONDAY, SUNDAY_EVENING, fixture_week, workflow_runs, zoned


def observer(uow: UnitOfWork, state: AppState, now: datetime = SUNDAY_EVENING) -> ObserverService:
    return observer_service(uow, state, clock=lambda: now)


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    stmt = select(func.count()).select_from(model).where(*where)
    return int(await session.scalar(stmt) or 0)


async def test_the_fixture_week_adds_up(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    week = await fixture_week(db_session)
    out = await observer(uow, state).reflect("weekly", date(2026, 11, 12))
    r = out.report
    assert (out.period_start, out.period_end, out.timezone) == (
        MONDAY,
        date(2026, 11, 15),
        "UTC",
    )
    # planned: brief, design, review, call, deep (2+3+1+1+8 h); done: brief, review.
    # worked: 2.5 h brief (billable) + 1.5 h review; the Sunday before does not count.
    assert r["numbers"] == {
        "tasks_planned": 5,
        "tasks_done": 2,
        "tasks_not_done": 3,
        "hours_estimated": 15,
        "hours_actual": 4.0,
        # brief 2 h took 3 h (0.5 h of it the Sunday before), review 1 h took 1.5 h
        "done_tasks_measured": 2,
        "done_hours_estimated": 3,
        "done_hours_worked": 4.5,
        # kept: brief and review (worked that day); moved: design (replanned 09:00 -> 13:00);
        # missed: call and deep (past, not done, no work)
        "blocks": {"kept": 2, "moved": 1, "missed": 2, "upcoming": 0},
    }
    assert [s["title"] for s in r["slipped"]] == ["Design"]
    assert r["slipped"][0]["task_id"] == week["tasks"]["design"].id
    # Friday's 8 h fill the 8 h working day the scheduler fills: no daily max was said.
    assert r["overbooked_days"] == []
    assert r["billable"] == {
        "billable_hours": 2.5,
        "worked_hours": 4.0,
        "share_pct": 62.5,
        "target_pct": 70,
        "runway_weeks": 8,
        "target_applies": True,
        "below_target": True,
    }
    assert r["drift"] == []
    assert len(r["recommendations"]) == 2
    assert "slipped" in r["recommendations"][0]
    assert "62.5%, under the 70% target" in r["recommendations"][1]
    # Without an LLM the report says so plainly, and there is no narrative.
    assert out.narrative is None
    assert r["llm"]["used"] is False
    assert "no LLM is configured" in r["llm"]["detail"]


async def test_a_day_is_overbooked_against_the_limits_the_scheduler_keeps(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    await fixture_week(db_session)
    # The user's remembered cap is the scheduler's daily max: Friday's 8 h pass it.
    port = memory_port(uow, state)
    await port.write_fact(
        FactIn(
            subject_type="user",
            subject_id="me",
            fact_type="preference",
            content="No more than 6 hours of work a day",
            valid_from=datetime(2026, 10, 1, tzinfo=UTC),
        )
    )
    r = (await observer(uow, state).reflect("weekly", date(2026, 11, 12))).report
    over = [{"day": "2026-11-13", "hours": 8.0, "max_hours": 6.0, "limit": "daily max"}]
    assert r["overbooked_days"] == over
    assert any(
        "2026-11-13 was booked for 8 h, above the daily max of 6 h" in line
        for line in r["recommendations"]
    )


async def test_a_day_past_its_working_hours_is_overbooked_without_a_daily_max(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    await fixture_week(db_session)
    short = state.settings.scheduler.model_copy(update={"workday_end": time(15)})  # 09-15 h
    state = replace(state, settings=state.settings.model_copy(update={"scheduler": short}))
    r = (await observer(uow, state).reflect("weekly", date(2026, 11, 12))).report
    over = [{"day": "2026-11-13", "hours": 8.0, "max_hours": 6.0, "limit": "working hours"}]
    assert r["overbooked_days"] == over
    assert any("above the working hours of 6 h" in line for line in r["recommendations"])


async def test_a_daily_reflection_covers_one_local_day(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    await fixture_week(db_session)
    out = await observer(uow, state).reflect("daily", date(2026, 11, 11))  # Wednesday
    n = out.report["numbers"]
    assert (n["tasks_planned"], n["tasks_done"], n["hours_estimated"], n["hours_actual"]) == (
        1,
        1,
        1,
        1.5,
    )
    assert out.report["slipped"][0]["title"] == "Design"


async def test_reflecting_on_the_same_period_again_replaces_it(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    week = await fixture_week(db_session)
    first = await observer(uow, state).reflect("weekly", MONDAY)
    week["tasks"]["call"].status = "done"
    await db_session.flush()
    second = await observer(uow, state).reflect("weekly", date(2026, 11, 15))
    assert second.id == first.id
    assert second.updated_at >= first.updated_at
    assert second.report["numbers"]["tasks_done"] == 3
    assert await count(db_session, Reflection) == 1
    # One memory per period: the changed reflection replaced its event.
    events = (await db_session.scalars(select(Event).where(Event.event_type == "reflection"))).all()
    assert [e.idempotency_key for e in events] == ["reflection:weekly:2026-11-09"]
    assert events[0].id == second.event_id
    assert "3 done" in events[0].content
    # A third run with nothing changed keeps the same event.
    third = await observer(uow, state).reflect("weekly", MONDAY)
    assert (third.id, third.event_id) == (first.id, second.event_id)


async def test_the_reflection_is_remembered_for_later_recall(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    await fixture_week(db_session)
    out = await observer(uow, state).reflect("weekly", MONDAY)
    event = await db_session.get(Event, out.event_id)
    assert event is not None
    assert (event.event_type, event.event_source, event.memory_scope) == (
        "reflection",
        "observer",
        "user",
    )
    assert event.metadata_ == {
        "mode": "weekly",
        "period_start": "2026-11-09",
        "period_end": "2026-11-15",
    }
    assert "Weekly reflection for 2026-11-09 to 2026-11-15: 5 tasks planned" in event.content
    assert event.promoted_to_fact_id is None  # the report is not itself a fact


async def test_a_run_at_2330_local_belongs_to_that_local_day(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    ny = zoned(state, "America/New_York")
    t = Task(title="Late", estimate_hours=1, status="done")
    db_session.add(t)
    await db_session.flush()
    late = datetime(2026, 11, 11, 4, 30, tzinfo=UTC)  # 23:30 on 10 Nov in New York
    db_session.add(
        ExecutionRun(
            task_id=t.id,
            status="completed",
            started_at=late,
            ended_at=late + timedelta(hours=1),
            estimated_hours=1,
            actual_hours=1,
        )
    )
    await db_session.flush()
    svc = observer(uow, ny)
    tuesday = await svc.reflect("daily", date(2026, 11, 10))
    wednesday = await svc.reflect("daily", date(2026, 11, 11))
    assert tuesday.report["numbers"]["hours_actual"] == 1
    assert wednesday.report["numbers"]["hours_actual"] == 0
    assert tuesday.timezone == "America/New_York"
    # In UTC the same run is on Wednesday.
    utc_wednesday = await observer(uow, state).reflect("daily", date(2026, 11, 11))
    assert utc_wednesday.report["numbers"]["hours_actual"] == 1


async def test_a_week_with_the_dst_change_keeps_its_sunday_night(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    ny = zoned(state, "America/New_York")
    t = Task(title="Sunday", estimate_hours=1, status="done")
    db_session.add(t)
    await db_session.flush()
    for start, hours in (
        (datetime(2026, 10, 26, 4, 30, tzinfo=UTC), 1.0),  # Mon 00:30 EDT: in
        (datetime(2026, 11, 2, 4, 30, tzinfo=UTC), 2.0),  # Sun 23:30 EST: in
        (datetime(2026, 11, 2, 5, 30, tzinfo=UTC), 4.0),  # Mon 00:30 EST: next week
        (datetime(2026, 10, 26, 3, 30, tzinfo=UTC), 8.0),  # Sun 23:30 EDT: last week
    ):
        db_session.add(
            ExecutionRun(
                task_id=t.id,
                status="completed",
                started_at=start,
                estimated_hours=1,
                actual_hours=hours,
            )
        )
    await db_session.flush()
    out = await observer(uow, ny).reflect("weekly", date(2026, 11, 1))
    assert (out.period_start, out.period_end) == (date(2026, 10, 26), date(2026, 11, 1))
    assert out.report["numbers"]["hours_actual"] == 3.0


async def test_drift_and_pattern_facts_come_from_the_runs(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    wf = await workflow_runs(db_session, [1.45] * 4)
    now = datetime(2026, 10, 11, 12, tzinfo=UTC)
    out = await observer(uow, state, now).reflect("daily", date(2026, 10, 10))
    assert out.report["recommendations"][0] == (
        "workflow Client onboarding ran 45% over its estimate in its last 4 runs: "
        "raise its estimate to 6.5 h"
    )
    kinds = [(d["kind"], d["step"]) for d in out.report["drift"]]
    assert kinds == [("workflow", None), ("step", "draft"), ("step", "polish")]
    facts = (await db_session.scalars(select(Fact).where(Fact.subject_type == "workflow"))).all()
    assert [(f.subject_id, f.fact_type, f.category, f.content) for f in facts] == [
        (
            str(wf.id),
            "pattern",
            "duration",
            "workflow Client onboarding takes about 6.5 h for a typical client, as the planner "
            "estimates it from 4 runs (the library says 4.5 h)",
        )
    ]
    decision = (await db_session.scalars(select(FactDecision))).one()
    assert (decision.source, decision.decision, decision.event_id) == (
        "numbers",
        "added",
        out.event_id,
    )

    # Four more runs on the estimate: the planner's estimate follows them (4.7 h, where the
    # mean of all eight runs said 5.5 h) and the new fact supersedes the old.
    await _more_runs(db_session, wf.id, 4)
    later = datetime(2026, 10, 20, 12, tzinfo=UTC)
    again = await observer(uow, state, later).reflect("daily", date(2026, 10, 19))
    current = (
        await db_session.scalars(
            select(Fact).where(Fact.subject_type == "workflow", Fact.valid_to.is_(None))
        )
    ).all()
    assert [f.content for f in current] == [
        "workflow Client onboarding takes about 4.7 h for a typical client, as the planner "
        "estimates it from 8 runs (the library says 4.5 h)"
    ]
    assert current[0].supersedes_id == facts[0].id
    decisions = (await db_session.scalars(select(FactDecision).order_by(FactDecision.id))).all()
    assert [d.decision for d in decisions] == ["added", "superseded"]
    assert again.report["drift"] == []  # the last 4 runs were on the estimate


async def _more_runs(session: AsyncSession, workflow_id: int, n: int) -> None:
    from almanac.models import ProcessTemplate

    for i in range(n):
        tpl = ProcessTemplate(name=f"more {i}", workflow_id=workflow_id, checklist=[])
        session.add(tpl)
        await session.flush()
        for m, (key, est) in enumerate((("draft", 2.0), ("polish", 2.5))):
            t = Task(
                process_template_id=tpl.id,
                plan_task_key=key,
                title=key,
                estimate_hours=est,
                status="done",
            )
            session.add(t)
            await session.flush()
            begin = datetime(2026, 10, 12 + i, 9 + m * 4, tzinfo=UTC)
            session.add(
                ExecutionRun(
                    process_template_id=tpl.id,
                    task_id=t.id,
                    status="completed",
                    started_at=begin,
                    estimated_hours=est,
                    actual_hours=est,
                )
            )
    await session.flush()


@pytest.mark.parametrize("ratios", [[1.2] * 4 + [1.5] * 4])
async def test_patterns_report_trend_and_suggested_estimate(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession, ratios: list[float]
) -> None:
    wf = await workflow_runs(db_session, ratios)
    (p,) = await observer(uow, state).patterns()
    assert (p.workflow_id, p.workflow, p.runs) == (wf.id, "Client onboarding", 8)
    assert p.mean_variance_pct == 35.0
    assert (p.recent_variance_pct, p.earlier_variance_pct, p.trend) == (50.0, 20.0, "worsening")
    assert p.current_estimate_hours == 4.5
    # The planner's estimate from these 8 runs, all over the library's.
    assert p.suggested_estimate_hours is not None
    assert 4.5 * 1.2 < p.suggested_estimate_hours < 4.5 * 1.5
    assert p.mean_actual_hours == pytest.approx(6.075, abs=0.01)


async def test_a_change_of_pace_is_followed_not_averaged(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    # Four runs on the estimate, then four 50% over: the suggestion follows the new pace.
    await workflow_runs(db_session, [1.0] * 4 + [1.5] * 4)
    (p,) = await observer(uow, state).patterns()
    assert (p.trend, p.current_estimate_hours) == ("worsening", 4.5)
    assert p.suggested_estimate_hours is not None
    assert 4.5 * 1.35 <= p.suggested_estimate_hours <= 4.5 * 1.55


async def test_the_period_memories_are_summarised(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    def memory(content: str, salience: float, when: datetime, kind: str = "memory") -> Event:
        return Event(
            content=content,
            event_type=kind,
            event_source="user",
            memory_scope="session",
            salience_score=salience,
            occurred_at=when,
        )

    db_session.add_all(
        [
            memory("Acme signed the renewal", 0.9, datetime(2026, 11, 10, 9, tzinfo=UTC)),
            memory("coffee with Lena", 0.2, datetime(2026, 11, 11, 9, tzinfo=UTC)),
            memory("Kickoff call went well", 0.6, datetime(2026, 11, 12, 9, tzinfo=UTC), "call"),
            memory("last week's news", 0.9, datetime(2026, 11, 8, 9, tzinfo=UTC)),
            memory("a day's reflection", 0.6, datetime(2026, 11, 12, 9, tzinfo=UTC), "reflection"),
        ]
    )
    await db_session.flush()
    out = await observer(uow, state).reflect("weekly", date(2026, 11, 12))
    assert out.report["memories"] == {
        "count": 3,
        "by_type": {"call": 1, "memory": 2},
        "notable": ["Acme signed the renewal", "Kickoff call went well", "coffee with Lena"],
    }
