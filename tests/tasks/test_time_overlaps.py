"""Time on one task is one session at a time: a record placed in time (an end given) that
shares time with another of the task's is a 409 naming it; a run keeps its hours inside
its start and end, also when time is recorded on a done task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.clock import on_clock
from almanac.http_problems import decode_problem
from almanac.models import ExecutionRun, Task
from tests.scheduler.conftest import TZ_NAME, make_plan

URL = "/api/v1/planner/tasks"
RUNS = "/api/v1/planner/execution-runs"


async def _task(session: AsyncSession) -> int:
    plan = await make_plan(session, [{"key": "work", "estimate_hours": 8.0}])
    return int((await session.scalars(select(Task.id).where(Task.plan_id == plan.id))).one())


async def _the_run(session: AsyncSession, tid: int) -> ExecutionRun:
    """The task's one run, as stored now (not as this session last loaded it)."""
    stmt = select(ExecutionRun).where(ExecutionRun.task_id == tid)
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one()


# Two days back, on the hour: the same instant for every record of a test.
_BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


def _ago(hours: float) -> str:
    return (_BASE - timedelta(hours=hours)).isoformat()


async def test_an_overlapping_time_record_is_a_409_naming_the_record(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2, "ended_at": _ago(10)})
    assert r.status_code == 200, r.text
    # 11:00-13:00 before; 1 h ending at 11:30 (10:30-11:30) shares half an hour.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(11.5)})
    assert r.status_code == 409, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "ended_at" and "time record of 2 h" in error["message"], error
    assert "overlaps" in r.json()["detail"]
    # Nothing was written.
    task = (await sched_client.get(f"{URL}/{tid}")).json()
    assert task["logged_hours"] == 2
    # Touching ends are no overlap, and hours given without an end say how much, not when.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(12)})
    assert r.status_code == 200, r.text
    for _ in range(2):
        r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1})
        assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 5


async def test_a_run_overlapping_a_time_record_or_run_of_the_task_is_a_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2, "ended_at": _ago(10)})
    assert r.status_code == 200, r.text
    # A run started inside the record.
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(11)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "started_at"
    # A run started before it: running until it is stopped, it shares the record's time.
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(14)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "started_at"
    assert "time record of 2 h" in r.json()["detail"]
    # One stored so before starts were checked so is refused a stop inside the record.
    stored = ExecutionRun(task_id=tid, started_at=_BASE - timedelta(hours=14), status="in_progress")
    db_session.add(stored)
    await db_session.commit()  # kept when the 409 below rolls the request back
    run_id = stored.id
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"ended_at": _ago(11)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "ended_at"
    assert "time record of 2 h" in r.json()["detail"]
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"ended_at": _ago(12)})
    assert r.status_code == 200, r.text
    # A record inside that run is refused in turn, naming the run.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(12.5)})
    assert r.status_code == 409, r.text
    assert f"execution run {run_id}" in r.json()["detail"]


async def test_time_on_a_done_task_keeps_its_run_holding_its_hours(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The run ended when the task was done; hours recorded later neither moved its end
    nor its start, and it held more hours than lay between them."""
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(10)})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "done"})
    assert r.status_code == 200, r.text
    later = _ago(2)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1.5, "ended_at": later})
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 3})  # ends now
    assert r.status_code == 200, r.text
    run = await _the_run(db_session, tid)
    assert run.started_at is not None and run.ended_at is not None
    assert float(run.actual_hours or 0) == 5.5
    assert run.ended_at >= datetime.now(UTC) - timedelta(minutes=5)  # the last work's end
    span = (run.ended_at - run.started_at).total_seconds() / 3600
    assert span >= 5.5, (run.started_at, run.ended_at)


async def test_hours_recorded_without_an_end_fit_the_run_when_it_is_closed(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    tid = await _task(db_session)
    for hours in (2, 3):
        r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": hours})
        assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "done"})
    assert r.status_code == 200, r.text
    run = await _the_run(db_session, tid)
    assert run.started_at is not None and run.ended_at is not None
    assert (run.ended_at - run.started_at).total_seconds() / 3600 >= 5


async def test_records_sharing_a_rounding_of_time_meet_end_to_start(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Hours are given to a hundredth: 20 minutes as 0.34 h reached 24 s into the record
    before it, and a run started 20 s before a record's end fell inside it: both were a
    409 for work done back to back. A hundredth of an hour shared is rounding."""
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.34, "ended_at": _ago(10)})
    assert r.status_code == 200, r.text
    before = (_BASE - timedelta(hours=10, minutes=20)).isoformat()  # where 0.34 h began, rounded
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.5, "ended_at": before})
    assert r.status_code == 200, r.text
    # A minute shared is an overlap still.
    late = (_BASE - timedelta(hours=10, minutes=19)).isoformat()
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 0.2, "ended_at": late})
    assert r.status_code == 409, r.text
    # A run started 20 s before the record's end.
    start = (_BASE - timedelta(hours=10, seconds=20)).isoformat()
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": start})
    assert r.status_code == 201, r.text
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(10.1)})
    assert r.status_code == 409, r.text


async def test_a_run_started_now_inside_a_record_ending_ahead_is_a_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A record may end up to a day ahead; a run started now (no started_at) inside it was
    taken, while the same start given as started_at was a 409. No start was given, so the
    refusal names the task (it named `started_at` and a UTC time to the microsecond: the
    CLI said "--at 2026-...T09:35:12.123456+00:00" for an option never given)."""
    tid = await _task(db_session)
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2, "ended_at": ahead})
    assert r.status_code == 200, r.text
    r = await sched_client.post(RUNS, json={"task_id": tid})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["errors"][0]["field"] == "task_id", problem
    assert "started_at" not in problem["detail"] and "+00:00" not in problem["detail"], problem
    assert "a run started now" in problem["detail"] and "time record of 2 h" in problem["detail"]


async def test_an_earlier_record_on_an_open_run_moves_its_start_only_to_that_work(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A record placed days back on a task still in progress moved its run's start its
    own hours plus every other hour of the run before that record's end, as if all the
    run's work ended there: an hour before any work was recorded."""
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1})  # ends now
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2, "ended_at": _ago(10)})
    assert r.status_code == 200, r.text
    run = await _the_run(db_session, tid)
    assert run.ended_at is None and run.started_at is not None
    assert run.started_at == _BASE - timedelta(hours=12), run.started_at  # the record's start


async def test_a_run_started_while_another_of_the_task_runs_is_a_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A second run started while the first was still running was taken; the first could
    then not be stopped (its end, now, overlapped the second: a 409 on a stop without
    --at). A task's time record kept open is no timer."""
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1})  # an open record run
    assert r.status_code == 200, r.text
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(30)})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(20)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "started_at"
    assert f"execution run {first}" in r.json()["detail"]
    # Said once by the clients (the field's reason was a shorter copy of the detail's).
    said = decode_problem(409, r.json()).message()
    assert said.count(f"execution run {first}") == 1, said
    # Stopped before it, the same start is taken.
    r = await sched_client.post(f"{RUNS}/{first}/stop", json={"ended_at": _ago(25)})
    assert r.status_code == 200, r.text
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(20)})
    assert r.status_code == 201, r.text
    r = await sched_client.post(f"{RUNS}/{r.json()['id']}/stop", json={"ended_at": _ago(19)})
    assert r.status_code == 200, r.text


async def test_a_run_started_before_another_run_of_the_task_is_a_409_naming_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A run runs until it is stopped: one started before a run of the same task still
    running, or before one stopped since, shares their time. Only a start inside a run
    was checked, so both were taken (and the first could then not be stopped)."""
    tid = await _task(db_session)
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(30)})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    runs = select(func.count()).select_from(ExecutionRun).where(ExecutionRun.task_id == tid)
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(40)})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "started_at"
    assert f"execution run {first}" in r.json()["detail"]
    assert await db_session.scalar(runs) == 1  # nothing written
    r = await sched_client.post(f"{RUNS}/{first}/stop", json={"ended_at": _ago(25)})
    assert r.status_code == 200, r.text
    # Stopped, it lies inside the time a run started before it would run.
    for started in (_ago(40), _ago(26)):
        r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started})
        assert r.status_code == 409, r.text
        assert r.json()["errors"][0] == {
            "field": "started_at",
            "message": f"overlaps execution run {first}",
        }
        # On the user's clock, to the minute, as the other run messages say times.
        ended = on_clock(_BASE - timedelta(hours=25), ZoneInfo(TZ_NAME))
        assert f"to {ended})" in r.json()["detail"], r.json()["detail"]
    assert await db_session.scalar(runs) == 1
    # At its end, the next run is taken.
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(25)})
    assert r.status_code == 201, r.text
    assert await db_session.scalar(runs) == 2


async def test_a_stopped_run_keeps_its_time_once_records_are_added_to_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A run started and stopped (no records) counted from its start to its stop; once an
    hour was recorded on its task (added to that run) it counted only by its records, so
    a record or a run inside its own time was taken: the same hours twice."""
    tid = await _task(db_session)
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(14)})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"ended_at": _ago(11)})
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1})  # added to that run
    assert r.status_code == 200, r.text
    assert r.json()["execution_run_id"] == run_id
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(12)})
    assert r.status_code == 409, r.text
    assert f"execution run {run_id}" in r.json()["detail"]
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": _ago(13)})
    assert r.status_code == 409, r.text
    # Before it, a record is taken as before.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1, "ended_at": _ago(14)})
    assert r.status_code == 200, r.text


async def test_stopping_a_timer_keeps_the_hours_recorded_on_it_meanwhile(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A stop without hours set them to the time since the run's start, which records had
    moved: half an hour recorded on a one-hour timer was dropped (1 h), and 2 h recorded
    five hours back made it 7 h (the hours between that record and the timer counted)."""
    for record, hours in (({"hours": 0.5}, 1.5), ({"hours": 2, "ended_at": _ago(-45)}, 3.0)):
        tid = await _task(db_session)
        now = datetime.now(UTC)
        started = (now - timedelta(hours=1)).isoformat()
        r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started})
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        r = await sched_client.post(f"{URL}/{tid}/time", json=record)
        assert r.status_code == 200, r.text
        assert r.json()["execution_run_id"] == run_id
        r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"ended_at": now.isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["actual_hours"] == hours, (record, r.json())
        # Less than the records hold is refused, naming the field.
        tid = await _task(db_session)
        r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started})
        run_id = r.json()["id"]
        await sched_client.post(f"{URL}/{tid}/time", json=record)
        r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"actual_hours": 0.25})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "actual_hours"


async def test_stopping_the_run_time_records_keep_leaves_their_hours(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The run `log_time` keeps open times nothing: stopped, it held the time since a
    record placed days back (2 h and 1 h became 49 h)."""
    tid = await _task(db_session)
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1})
    run_id = r.json()["execution_run_id"]
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2, "ended_at": _ago(0)})
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={})
    assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 3


async def test_a_record_placed_inside_a_running_timer_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A timer running since 2 h ago and half an hour recorded an hour ago: the timer has no
    end yet, so the record was taken, and the stop added the timer's own 2 h to it (2.5 h
    over 2 h of clock time, the half hour counted twice)."""
    tid = await _task(db_session)
    now = datetime.now(UTC)
    started = (now - timedelta(hours=2)).isoformat()
    r = await sched_client.post(RUNS, json={"task_id": tid, "started_at": started})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    inside = {"hours": 0.5, "ended_at": (now - timedelta(hours=1)).isoformat()}
    r = await sched_client.post(f"{URL}/{tid}/time", json=inside)
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "ended_at"
    # Before the timer started, a record is taken, and the stop adds the two.
    before = {"hours": 0.5, "ended_at": (now - timedelta(hours=3)).isoformat()}
    r = await sched_client.post(f"{URL}/{tid}/time", json=before)
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{RUNS}/{run_id}/stop", json={"ended_at": now.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["actual_hours"] == 2.5


async def test_time_on_another_task_at_the_same_hours_is_accepted_with_a_warning(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """20 h on one task and 20 h on another, both ending at the same hour, made a 40 h day
    in the reflection without a word: the second answer now says whose time it shares."""
    plan = await make_plan(
        db_session, [{"key": "a", "estimate_hours": 30.0}, {"key": "b", "estimate_hours": 30.0}]
    )
    ids = (await db_session.scalars(select(Task.id).where(Task.plan_id == plan.id))).all()
    first, second = sorted(ids)
    r = await sched_client.post(f"{URL}/{first}/time", json={"hours": 20, "ended_at": _ago(0)})
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text
    r = await sched_client.post(f"{URL}/{second}/time", json={"hours": 20, "ended_at": _ago(0)})
    assert r.status_code == 200, r.text  # one person may log two tasks' time at once
    (warning,) = r.json()["warnings"]
    assert f"task {first}" in warning and "20 h" in warning, warning
    # Hours next to it, not at the same time: no warning.
    r = await sched_client.post(f"{URL}/{second}/time", json={"hours": 1, "ended_at": _ago(20)})
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text


def test_a_time_in_the_hour_the_clocks_go_back_says_which_it_is() -> None:
    """On 1 Nov 2026 in New York 01:30 happens twice: "01:18 to 01:30" read as twelve
    minutes for a record of 1.2 h, and "start it after 01:30" as if 01:40 EDT were after
    01:30 EST (an outside probe)."""
    tz = ZoneInfo("America/New_York")
    first, second = (datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in (5, 6))
    assert on_clock(first, tz).endswith("Sun 01 Nov 01:30 EDT")
    assert on_clock(second, tz).endswith("Sun 01 Nov 01:30 EST")
    # Any other time, as before: no zone.
    assert on_clock(datetime(2026, 11, 1, 8, tzinfo=UTC), tz).endswith("Sun 01 Nov 03:00")
    assert on_clock(datetime(2026, 3, 8, 7, tzinfo=UTC), tz).endswith("Sun 08 Mar 03:00")
