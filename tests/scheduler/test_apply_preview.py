"""Applying a preview by `run_id`: what the stored runs say, and parameters that disagree."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import SchedulerRun

from .conftest import at, make_plan, next_monday
from .test_whole_calendar import chain, schedule


async def _runs(session: AsyncSession, plan_id: int) -> list[SchedulerRun]:
    stmt = select(SchedulerRun).where(SchedulerRun.plan_id == plan_id).order_by(SchedulerRun.id)
    return list(await session.scalars(stmt))


async def test_an_applied_preview_records_written_runs_for_every_plan_it_moves(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    slow = await make_plan(db_session, chain(4, 2.0, priority=1), title="Slow")
    r = await schedule(sched_client, slow.id, dry_run=False, horizon_days=3)
    assert r.status_code == 200, r.text
    urgent_tasks = [
        {"key": "fix", "estimate_hours": 3.0, "priority": 4, "deadline": at(monday, 13)}
    ]
    urgent = await make_plan(db_session, urgent_tasks, title="Urgent")
    preview = (await schedule(sched_client, urgent.id, horizon_days=3)).json()
    assert any(m["plan_id"] == slow.id for m in preview["moves"])  # it moves the other plan
    r = await schedule(
        sched_client, urgent.id, dry_run=False, run_id=preview["run_id"], horizon_days=3
    )
    assert r.status_code == 200, r.text
    [moved] = [run for run in await _runs(db_session, slow.id) if run.metadata_.get("moved_by_run")]
    assert moved.metadata_["moved_by_run"] == r.json()["run_id"]
    assert moved.metadata_["dry_run"] is False  # written, not a preview
    [written] = [run for run in await _runs(db_session, urgent.id) if run.id == r.json()["run_id"]]
    assert written.metadata_["dry_run"] is False
    assert written.metadata_["from_preview"] == preview["run_id"]
