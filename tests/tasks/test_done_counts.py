"""A task marked done counts as done in the reflection of the day it was finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scheduler.conftest import TZ, make_plan
from tests.tasks.test_tasks_api import URL, ids


async def test_a_task_finished_today_counts_in_todays_reflection(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Reflections counted a done task only on the day its first block was planned: one
    finished today, never scheduled or planned for next week, counted 0 today."""
    later = datetime.now(TZ) + timedelta(days=9)
    plan = await make_plan(
        db_session,
        [
            {"key": "quick"},
            {"key": "ahead", "scheduled_start": later},
            {"key": "open", "scheduled_start": datetime.now(TZ)},  # planned today, not done
        ],
    )
    by_key = await ids(db_session, plan.id)
    for key in ("quick", "ahead"):
        ended = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        r = await sched_client.post(
            f"{URL}/{by_key[key]}/time", json={"hours": 0.5, "ended_at": ended}
        )
        assert r.status_code == 200, r.text
        r = await sched_client.patch(f"{URL}/{by_key[key]}", json={"status": "done"})
        assert r.status_code == 200, r.text
    today = datetime.now(TZ).date()
    r = await sched_client.post(
        "/api/v1/observer/reflect", params={"mode": "daily", "date": today.isoformat()}
    )
    assert r.status_code == 200, r.text
    numbers = r.json()["report"]["numbers"]
    assert numbers["tasks_done"] == 2, numbers
    assert numbers["tasks_planned"] == 1 and numbers["tasks_not_done"] == 1, numbers


async def test_a_task_marked_done_with_no_time_recorded_counts_when_it_was_finished(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """`done` with no hours recorded made no execution run and left no finish time: the
    reflection counted the task done only through a block planned that day, so a task
    finished today but never scheduled (or planned for next week) counted 0 done."""
    later = datetime.now(TZ) + timedelta(days=9)
    plan = await make_plan(
        db_session,
        [{"key": "quick"}, {"key": "ahead", "scheduled_start": later}, {"key": "reopened"}],
    )
    by_key = await ids(db_session, plan.id)
    for key in ("quick", "ahead", "reopened"):
        r = await sched_client.patch(f"{URL}/{by_key[key]}", json={"status": "done"})
        assert r.status_code == 200, r.text
        assert r.json()["task"]["finished_at"] is not None, r.text
    # Reopened: no longer finished, so it no longer counts.
    r = await sched_client.patch(f"{URL}/{by_key['reopened']}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["finished_at"] is None, r.text
    today = datetime.now(TZ).date()
    r = await sched_client.post(
        "/api/v1/observer/reflect", params={"mode": "daily", "date": today.isoformat()}
    )
    assert r.status_code == 200, r.text
    numbers = r.json()["report"]["numbers"]
    assert numbers["tasks_done"] == 2, numbers
