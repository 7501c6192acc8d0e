"""Calendar sync: a new meeting on a placed block gets the plan replanned, once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from procrastinate import JobContext
from procrastinate.jobs import Job
from sqlalchemy import func, select, text

from almanac.calendars.base import CalendarUnavailable
from almanac.calendars.builtin import BuiltinCalendar
from almanac.jobs.context import set_state
from almanac.models import SchedulerRun
from almanac.scheduler import sync
from almanac.scheduler.sync import SyncIncomplete, sync_calendar
from almanac.scheduler.tasks import calendar_sync
from almanac.state import AppState
from tests.conftest import ok

STEPS = [
    {
        "id": "s",
        "title": "Work",
        "tasks": [
            {"id": "draft", "title": "Draft", "estimate_hours": 1.0},
            {"id": "review", "title": "Review", "estimate_hours": 1.0, "depends_on": ["draft"]},
        ],
    }
]


async def scheduled_plan(api: httpx.AsyncClient, name: str) -> tuple[dict[str, Any], date, Any]:
    """A two-task plan from a new workflow `name`, approved and written from next Monday:
    (the plan, that Monday, the schedule's answer)."""
    workflow = await ok(
        await api.post("/api/v1/planner/workflows", json={"name": name, "steps": STEPS}),
        201,
    )
    intent = {"intent": f"{name.lower()} job", "workflow_id": workflow["id"]}
    plan = await ok(await api.post("/api/v1/planner/plan", json=intent), 201)
    await ok(await api.post(f"/api/v1/planner/plans/{plan['id']}/approve"))
    today = date.today()
    monday = today + timedelta(days=7 - today.weekday())
    scheduled = await ok(
        await api.post(
            "/api/v1/scheduler/schedule",
            json={"plan_id": plan["id"], "start_date": monday.isoformat(), "dry_run": False},
        )
    )
    return plan, monday, scheduled


async def test_a_colliding_event_is_replanned_around_and_a_rerun_is_a_no_op(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    api = committed_client
    plan, monday, scheduled = await scheduled_plan(api, "Tiny")
    first = min(scheduled["blocks"], key=lambda b: b["start"])

    # Nothing collides yet: the sync looks and leaves the plan alone.
    report = await sync_calendar(committed_state)
    assert report.checked == [plan["id"]] and report.replanned == {} and report.failed == {}

    # The user books a meeting on top of the first block.
    await ok(
        await api.post(
            "/api/v1/calendar/events",
            json={"title": "Surprise call", "start": first["start"], "end": first["end"]},
        ),
        201,
    )
    report = await sync_calendar(committed_state)
    assert list(report.replanned) == [plan["id"]] and report.replanned[plan["id"]] > 0

    window = {
        "start_date": monday.isoformat(),
        "end_date": (monday + timedelta(days=14)).isoformat(),
    }
    events = (await ok(await api.get("/api/v1/scheduler/calendar", params=window)))["events"]
    meeting = next(e for e in events if e["title"] == "Surprise call")
    blocks = [e for e in events if e["almanac"]]
    assert len(blocks) == 2
    m_start, m_end = (
        datetime.fromisoformat(meeting["start"]),
        datetime.fromisoformat(meeting["end"]),
    )
    for b in blocks:
        start, end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
        assert end <= m_start or start >= m_end

    # Replanned once: the next sync finds nothing to do.
    again = await sync_calendar(committed_state)
    assert again.replanned == {} and again.failed == {}


async def test_a_pinned_block_on_a_users_event_settles(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    api = committed_client
    plan, monday, scheduled = await scheduled_plan(api, "Pinned")
    block = max(scheduled["blocks"], key=lambda b: b["start"])
    friday = (monday + timedelta(days=4)).isoformat()
    # An all-day "Focus Friday" of the user's, and the block pinned onto it anyway.
    focus = await ok(
        await api.post(
            "/api/v1/calendar/events",
            json={
                "title": "Focus Friday",
                "start": f"{friday}T00:00:00+00:00",
                "end": f"{friday}T23:59:00+00:00",
            },
        ),
        201,
    )
    moved = await api.put(
        f"/api/v1/scheduler/calendar/{block['almanac_id']}",
        json={"start": f"{friday}T10:00:00+00:00", "end": f"{friday}T11:00:00+00:00"},
    )
    assert moved.status_code == 409  # it conflicts...
    forced = await ok(
        await api.put(
            f"/api/v1/scheduler/calendar/{block['almanac_id']}",
            json={
                "start": f"{friday}T10:00:00+00:00",
                "end": f"{friday}T11:00:00+00:00",
                "force": True,
            },
        )
    )
    assert any("Focus Friday" in w for w in forced["warnings"])  # ...reported, as a warning
    runs_before = await _run_count(committed_state, plan["id"])
    # The first sync stores the collision once, as a warning on the block; no replan, no run.
    report = await sync_calendar(committed_state)
    assert report.replanned == {} and report.failed == {}
    assert report.warned == {plan["id"]: 1}
    # Every later sync finds it reported and writes nothing, sync after sync.
    for _ in range(3):
        report = await sync_calendar(committed_state)
        assert report.replanned == {} and report.failed == {} and report.warned == {}
    assert await _run_count(committed_state, plan["id"]) == runs_before
    runs = await ok(await api.get("/api/v1/scheduler/calendar", params={"start_date": friday}))
    pinned = next(e for e in runs["events"] if e["id"] == block["almanac_id"])
    assert pinned["conflicts"]  # the calendar view marks it
    assert len(pinned["warnings"]) == 1 and "Focus Friday" in pinned["warnings"][0]
    assert "pinned by you" in pinned["warnings"][0]
    others = [e for e in runs["events"] if e["almanac"] and e["id"] != block["almanac_id"]]
    assert all(e["warnings"] == [] for e in others)

    # The user drops the event: the next sync clears the warning once, then nothing again.
    gone = await api.delete(f"/api/v1/calendar/events/{focus['id']}")
    assert gone.status_code == 200, gone.text
    assert (await sync_calendar(committed_state)).warned == {plan["id"]: 1}
    assert (await sync_calendar(committed_state)).warned == {}
    view = await ok(await api.get("/api/v1/scheduler/calendar", params={"start_date": friday}))
    pinned = next(e for e in view["events"] if e["id"] == block["almanac_id"])
    assert pinned["warnings"] == [] and pinned["conflicts"] == []
    assert await _run_count(committed_state, plan["id"]) == runs_before


async def _run_count(state: AppState, plan_id: int) -> int:
    async with state.sessionmaker() as session:
        query = select(func.count()).select_from(SchedulerRun)
        return int(await session.scalar(query.where(SchedulerRun.plan_id == plan_id)) or 0)


class _Unreachable(BuiltinCalendar):
    """A calendar whose server does not answer (reads fail as CalDAV's do then)."""

    async def events(self, start: datetime, end: datetime) -> list[Any]:
        raise CalendarUnavailable("calendar server unreachable")


async def test_a_sync_whose_plans_failed_fails_its_job_with_the_reason(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sync that could not check a plan was marked succeeded: the jobs list said all was
    well while the calendar was down. It fails (and is retried), with the reason on the job;
    a later sync that gets through clears it."""
    plan, _, _ = await scheduled_plan(committed_client, "Down")
    set_state(committed_state)
    async with committed_state.sessionmaker() as session:
        job_id = (
            await session.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)"
                    " VALUES ('maintenance', 'almanac:calendar_sync', '{}', 'doing', 0)"
                    " RETURNING id"
                )
            )
        ).scalar_one()
        await session.commit()
    monkeypatch.setattr(sync, "configured_calendar", lambda _state, s: _Unreachable(s))
    with pytest.raises(SyncIncomplete) as failed:
        await calendar_sync(_context(job_id))
    assert f"plan {plan['id']}" in failed.value.message
    assert "unreachable" in failed.value.message
    assert "unreachable" in (await _reason(committed_state, job_id) or "")

    monkeypatch.undo()  # the calendar is back: the retry gets through and says nothing
    await calendar_sync(_context(job_id))
    assert await _reason(committed_state, job_id) is None


async def _reason(state: AppState, job_id: int) -> str | None:
    async with state.sessionmaker() as session:
        query = text("SELECT reason FROM job_reasons WHERE job_id = :id")
        return (await session.execute(query, {"id": job_id})).scalar_one_or_none()


def _context(job_id: int) -> JobContext:
    job = Job(id=job_id, queue="maintenance", lock=None, queueing_lock=None, task_name="x")
    return JobContext(app=cast(Any, None), job=job, start_timestamp=0.0, abort_reason=lambda: None)
