"""Observer fixtures: the app over HTTP, the LLM double, and a fixture week."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import (
    ExecutionRun,
    Plan,
    ProcessTemplate,
    SchedulerRun,
    Sprint,
    Task,
    Workflow,
)
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client
from tests.planner.conftest import SessionRecorder, chat, llm_state, recorder  # noqa: F401

MONDAY = date(2026, 11, 9)
SUNDAY_EVENING = datetime(2026, 11, 15, 20, 0, tzinfo=UTC)


def at(day: int, hour: float, tz: Any = UTC) -> datetime:
    """A time in the week of 2026-11-09 (day 0 = Monday)."""
    h, m = int(hour), round((hour % 1) * 60)
    return datetime(2026, 11, 9 + day, h, m, tzinfo=tz)


@pytest.fixture
async def api(state: AppState, db_session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app_in_transaction(state, db_session)) as c:
        yield c


def zoned(state: AppState, tz: str) -> AppState:
    """The state with the user in time zone `tz`."""
    return replace(state, settings=state.settings.model_copy(update={"timezone": tz}))


def block(key: str, start: datetime, end: datetime, chunk: int = 0) -> dict[str, Any]:
    return {
        "task_key": key,
        "chunk": chunk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "reason": "",
        "fixed": False,
    }


async def fixture_week(session: AsyncSession) -> dict[str, Any]:
    """A week (UTC) with known numbers; see test_reflect for the expected report."""
    plan = Plan(plan_title="Launch", intent="launch", sop={}, status="scheduled")
    session.add(plan)
    await session.flush()

    def task(key: str, est: float, status: str, start: datetime, **kw: Any) -> Task:
        return Task(
            plan_id=plan.id,
            plan_task_key=key,
            title=key.title(),
            estimate_hours=est,
            status=status,
            scheduled_start=start,
            **kw,
        )

    tasks = {
        # Their runs' hours, as recording them keeps them (the Sunday before included).
        "brief": task("brief", 2, "done", at(0, 9), billable=True, metadata_={"logged_hours": 3}),
        "design": task("design", 3, "todo", at(1, 9), deadline=at(2, 17)),
        "review": task("review", 1, "done", at(2, 10), metadata_={"logged_hours": 1.5}),
        "call": task("call", 1, "todo", at(3, 9)),
        "deep": task("deep", 8, "todo", at(4, 8)),
        "later": task("later", 5, "todo", at(7, 9)),  # next Monday: not this week
    }
    session.add_all(tasks.values())
    await session.flush()
    session.add_all(
        [
            ExecutionRun(
                task_id=tasks["brief"].id,
                status="completed",
                started_at=at(0, 9),
                ended_at=at(0, 11.5),
                estimated_hours=2,
                actual_hours=2.5,
            ),
            ExecutionRun(
                task_id=tasks["review"].id,
                status="completed",
                started_at=at(2, 10),
                ended_at=at(2, 11.5),
                estimated_hours=1,
                actual_hours=1.5,
            ),
            # The Sunday before the week: not counted.
            ExecutionRun(
                task_id=tasks["brief"].id,
                status="completed",
                started_at=at(-1, 23),
                ended_at=at(-1, 23.5),
                estimated_hours=2,
                actual_hours=0.5,
            ),
        ]
    )
    first = [
        block("brief", at(0, 9), at(0, 11)),
        block("design", at(1, 9), at(1, 12)),
        block("review", at(2, 10), at(2, 11)),
        block("call", at(3, 9), at(3, 10)),
        block("deep", at(4, 8), at(4, 16)),
    ]
    latest = [*first]
    latest[1] = block("design", at(1, 13), at(1, 16))  # moved by a replan
    session.add_all(
        [
            SchedulerRun(plan_id=plan.id, status="scheduled", schedule_blocks=first),
            SchedulerRun(plan_id=plan.id, status="preview", schedule_blocks=[]),
            SchedulerRun(plan_id=plan.id, status="pinned", schedule_blocks=latest),
        ]
    )
    session.add(Sprint(week_start=MONDAY, capacity_hrs=30, billable_target_pct=70, runway_weeks=8))
    await session.flush()
    return {"plan": plan, "tasks": tasks}


STEPS = [
    {
        "id": "work",
        "title": "Work",
        "tasks": [
            {"id": "draft", "title": "Draft", "estimate_hours": 2.0},
            {"id": "polish", "title": "Polish", "estimate_hours": 2.5},
        ],
    }
]


async def workflow_runs(
    session: AsyncSession,
    ratios: list[float],
    *,
    name: str = "Client onboarding",
    start: datetime = datetime(2026, 10, 1, 9, tzinfo=UTC),
) -> Workflow:
    """A workflow (4.5 h: draft 2 h + polish 2.5 h) with one completed instance per ratio
    (actual = estimate x ratio), a day apart."""
    wf = Workflow(name=name, steps=STEPS)
    session.add(wf)
    await session.flush()
    for n, ratio in enumerate(ratios):
        tpl = ProcessTemplate(name=f"{name} {n}", workflow_id=wf.id, checklist=[])
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
            begin = start + timedelta(days=n, hours=m * 4)
            session.add(
                ExecutionRun(
                    process_template_id=tpl.id,
                    task_id=t.id,
                    status="completed",
                    started_at=begin,
                    ended_at=begin + timedelta(hours=est * ratio),
                    estimated_hours=est,
                    actual_hours=round(est * ratio, 6),
                )
            )
    await session.flush()
    return wf
