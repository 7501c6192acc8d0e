"""A pattern says what its runs measured beside the workflow's whole estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.models import ExecutionRun, ProcessTemplate, Task
from almanac.state import AppState
from tests.observer.conftest import workflow_runs
from tests.observer.test_reflect import observer


async def test_an_engagement_under_way_is_measured_by_the_tasks_it_ran(
    uow: UnitOfWork, state: AppState, db_session: AsyncSession
) -> None:
    """The dashboard showed "estimate 5, mean actual 0.25, variance 0%" for a workflow with
    one task of one engagement done: the mean actual was the tasks that ran, the estimate
    the whole workflow's. The pattern now says what the runs were estimated at."""
    wf = await workflow_runs(db_session, [1.2])  # one whole engagement: 4.5 h est, 5.4 h
    tpl = ProcessTemplate(name="under way", workflow_id=wf.id, checklist=[])
    db_session.add(tpl)
    await db_session.flush()
    # Its first task done, the rest of the engagement still to do.
    task = Task(
        process_template_id=tpl.id,
        plan_task_key="draft",
        title="draft",
        estimate_hours=2,
        status="done",
    )
    db_session.add(task)
    await db_session.flush()
    begin = datetime(2026, 10, 20, 9, tzinfo=UTC)
    db_session.add(
        ExecutionRun(
            process_template_id=tpl.id,
            task_id=task.id,
            status="completed",
            started_at=begin,
            ended_at=begin + timedelta(hours=2.4),
            estimated_hours=2.0,
            actual_hours=2.4,
        )
    )
    await db_session.flush()
    (p,) = await observer(uow, state).patterns()
    assert p.runs == 2 and p.current_estimate_hours == 4.5
    assert p.mean_estimated_hours == pytest.approx((4.5 + 2.0) / 2)
    assert p.mean_actual_hours == pytest.approx((5.4 + 2.4) / 2)
    assert p.mean_variance_pct == pytest.approx(20.0)
