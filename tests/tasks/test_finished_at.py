"""`finished_at` for work recorded after the fact: never before the work placed in time on
the task, from either side, and the task's run ends when the task was finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ExecutionRun, Task
from tests.scheduler.conftest import make_plan

URL = "/api/v1/planner/tasks"
RUNS = "/api/v1/planner/execution-runs"

# On the hour, so every instant of a test compares exactly.
_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _days_ago(days: float) -> datetime:
    return _NOW - timedelta(days=days)


async def _task(session: AsyncSession) -> int:
    plan = await make_plan(session, [{"key": "work", "estimate_hours": 8.0}])
    return int((await session.scalars(select(Task.id).where(Task.plan_id == plan.id))).one())


async def _runs(session: AsyncSession, tid: int) -> list[ExecutionRun]:
    stmt = select(ExecutionRun).where(ExecutionRun.task_id == tid).order_by(ExecutionRun.id)
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def test_finished_before_a_running_timer_started_is_a_422(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A timer started two weeks ago and still running is work placed in time: finishing
    the task three weeks ago was taken (the task done a week before its work began)."""
    tid = await _task(db_session)
    r = await sched_client.post(
        RUNS, json={"task_id": tid, "started_at": _days_ago(14).isoformat()}
    )
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    body = {"status": "done", "finished_at": _days_ago(21).isoformat()}
    r = await sched_client.patch(f"{URL}/{tid}", json=body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["finished_at"], r.text
    assert f"execution run {run_id}" in r.json()["detail"], r.text
    task = (await sched_client.get(f"{URL}/{tid}")).json()
    assert (task["status"], task["finished_at"]) == ("in_progress", None)  # as the timer left it
    # After its start, it is taken.
    body = {"status": "done", "finished_at": _days_ago(13).isoformat()}
    r = await sched_client.patch(f"{URL}/{tid}", json=body)
    assert r.status_code == 200, r.text


async def test_the_run_of_a_task_finished_after_the_fact_ends_when_it_was_finished(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Hours recorded without an end, or a timer, then the task marked done as finished
    three weeks ago: its run ended today, and estimates (which weigh a run by when it
    ended) counted it as today's work. The same when a done task's finish is moved back."""
    recorded, timed, moved = [await _task(db_session) for _ in range(3)]
    r = await sched_client.post(f"{URL}/{recorded}/time", json={"hours": 2})
    assert r.status_code == 200, r.text
    r = await sched_client.post(
        RUNS, json={"task_id": timed, "started_at": _days_ago(22).isoformat()}
    )
    assert r.status_code == 201, r.text
    then = _days_ago(21)
    for tid in (recorded, timed):
        r = await sched_client.patch(
            f"{URL}/{tid}", json={"status": "done", "finished_at": then.isoformat()}
        )
        assert r.status_code == 200, r.text
    # Done today, then its finish moved back three weeks.
    r = await sched_client.post(f"{URL}/{moved}/time", json={"hours": 2})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{moved}", json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{moved}", json={"finished_at": then.isoformat()})
    assert r.status_code == 200, r.text
    for tid in (recorded, timed, moved):
        (run,) = await _runs(db_session, tid)
        assert run.status == "completed" and run.ended_at == then, (tid, run.ended_at)
        assert run.started_at is not None and run.started_at <= then - timedelta(hours=2), tid


async def test_time_recorded_on_a_task_finished_after_the_fact_keeps_the_finish_after_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A PATCH never puts `finished_at` before the work placed on the task; a time record
    after it did: work ending two weeks ago on a task finished three weeks ago left the task
    finished before its own work (the reflection counted it done a week before it was).
    Hours recorded without an end on it ended its run today."""
    placed, unplaced = [await _task(db_session) for _ in range(2)]
    then = _days_ago(21)
    for tid in (placed, unplaced):
        r = await sched_client.patch(
            f"{URL}/{tid}", json={"status": "done", "finished_at": then.isoformat()}
        )
        assert r.status_code == 200, r.text
    later = _days_ago(14)
    r = await sched_client.post(
        f"{URL}/{placed}/time", json={"hours": 2, "ended_at": later.isoformat()}
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["task"]["finished_at"]) == later, r.text
    # Earlier work placed on it leaves the finish where it is.
    r = await sched_client.post(
        f"{URL}/{placed}/time", json={"hours": 1, "ended_at": _days_ago(28).isoformat()}
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["task"]["finished_at"]) == later, r.text
    (run,) = await _runs(db_session, placed)
    assert run.ended_at == later
    r = await sched_client.post(f"{URL}/{unplaced}/time", json={"hours": 2})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["task"]["finished_at"]) == then, r.text
    (run,) = await _runs(db_session, unplaced)
    assert run.ended_at == then and run.started_at == then - timedelta(hours=2)


async def test_no_run_is_started_on_a_done_task_and_its_finish_stays(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The execution-runs endpoints started runs on a done task (moving its finish to their
    start), which nothing stopped when the user did not: they stayed in progress for good.
    They are refused now, before or after the finish; hours worked on it after the fact
    are a time record (which moves the finish, above), and a PATCH still keeps the finish
    after the work placed in time."""
    tid = await _task(db_session)
    then = _days_ago(21)
    body = {"status": "done", "finished_at": then.isoformat()}
    assert (await sched_client.patch(f"{URL}/{tid}", json=body)).status_code == 200
    for start in (_days_ago(22), _days_ago(14), None):
        run = {"task_id": tid} | ({"started_at": start.isoformat()} if start else {})
        r = await sched_client.post(RUNS, json=run)
        assert r.status_code == 409 and f"task {tid} is done" in r.json()["detail"], r.text
    task = (await sched_client.get(f"{URL}/{tid}")).json()
    assert task["status"] == "done" and datetime.fromisoformat(task["finished_at"]) == then
    assert await _runs(db_session, tid) == []
    # Recorded with their end, the hours move the finish, which a PATCH then keeps.
    end = _days_ago(14)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 3, "ended_at": end.isoformat()})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["task"]["finished_at"]) == end
    r = await sched_client.patch(f"{URL}/{tid}", json={"finished_at": then.isoformat()})
    assert r.status_code == 422, r.text


async def test_closing_a_task_stops_every_run_left_open_on_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Closing stopped only the task's latest run. Hours recorded first (a run of records,
    open while the task is) and a timer started after were two open runs: the records' run
    stayed in progress on the done task for good, its hours counted by nothing that reads
    completed runs. Two timers (a second started before the first, stored before starts
    were checked against every open run) were the same, for a cancelled task."""
    for status in ("done", "cancelled"):
        tid = await _task(db_session)
        if status == "done":
            r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2})
            assert r.status_code == 200, r.text
            r = await sched_client.post(RUNS, json={"task_id": tid})
        else:
            r = await sched_client.post(RUNS, json={"task_id": tid})
            assert r.status_code == 201, r.text
            earlier = datetime.now(UTC) - timedelta(hours=3)
            db_session.add(ExecutionRun(task_id=tid, started_at=earlier, status="in_progress"))
            await db_session.commit()
        assert r.status_code == 201, r.text
        assert len(await _runs(db_session, tid)) == 2
        r = await sched_client.patch(f"{URL}/{tid}", json={"status": status})
        assert r.status_code == 200, r.text
        runs = await _runs(db_session, tid)
        assert [r.status for r in runs] == ["completed" if status == "done" else "cancelled"] * 2
        assert all(r.ended_at is not None for r in runs), [(r.id, r.ended_at) for r in runs]
