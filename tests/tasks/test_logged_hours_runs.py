"""A task's logged hours are the hours of all its execution runs: a timer started and
stopped (`almanac runs start/stop`) counts as much as hours recorded (`almanac log`), and
recording more never makes the total smaller. They were the latest run's alone: a timer's
hour was missing until the next record, which then replaced the earlier runs' hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Task
from tests.scheduler.conftest import make_plan

URL = "/api/v1/planner/tasks"
RUNS = "/api/v1/planner/execution-runs"

# Two days back, on the hour: the runs' times, clear of now whatever the hour.
_BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


def _ago(hours: float) -> str:
    return (_BASE - timedelta(hours=hours)).isoformat()


async def _task(session: AsyncSession) -> int:
    plan = await make_plan(session, [{"key": "work", "estimate_hours": 8.0}])
    return int((await session.scalars(select(Task.id).where(Task.plan_id == plan.id))).one())


async def _timer(client: httpx.AsyncClient, tid: int, start: float, stop: float) -> None:
    r = await client.post(RUNS, json={"task_id": tid, "started_at": _ago(start)})
    assert r.status_code == 201, r.text
    r = await client.post(f"{RUNS}/{r.json()['id']}/stop", json={"ended_at": _ago(stop)})
    assert r.status_code == 200, r.text


async def _logged(client: httpx.AsyncClient, tid: int) -> tuple[float, float]:
    task = (await client.get(f"{URL}/{tid}")).json()
    return task["logged_hours"], task["remaining_hours"]


async def test_timers_and_records_add_up_to_the_logged_hours(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    tid = await _task(db_session)
    await _timer(sched_client, tid, 10, 9)  # one hour on the clock
    assert await _logged(sched_client, tid) == (1.0, 7.0)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.5})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["logged_hours"] == 1.5
    await _timer(sched_client, tid, 8, 7)  # a second timer: another hour
    assert await _logged(sched_client, tid) == (2.5, 5.5)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.25})
    assert r.status_code == 200, r.text
    # Recording a quarter of an hour more adds it; it does not forget the earlier runs.
    assert r.json()["task"]["logged_hours"] == 2.75
    assert await _logged(sched_client, tid) == (2.75, 5.25)
