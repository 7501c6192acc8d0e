"""Applying a preview by `run_id`: what the stored runs say, and parameters that disagree."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import SchedulerRun

from .conftest import almanac_entries, make_plan, next_monday, run_count
from .test_whole_calendar import chain, schedule, urgent_over_slow


async def _runs(session: AsyncSession, plan_id: int) -> list[SchedulerRun]:
    stmt = select(SchedulerRun).where(SchedulerRun.plan_id == plan_id).order_by(SchedulerRun.id)
    return list(await session.scalars(stmt))


async def test_an_applied_preview_records_written_runs_for_every_plan_it_moves(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    slow, urgent, preview = await urgent_over_slow(sched_client, db_session)
    assert any(m["plan_id"] == slow.id for m in preview["moves"])  # it moves the other plan
    # The share is of every plan's movable blocks, and says how many those are.
    assert preview["moved_of"] > 0
    assert preview["moved_share"] == round(len(preview["moves"]) / preview["moved_of"], 4)
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


async def test_applying_a_preview_with_other_parameters_is_422_naming_the_field(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    plan = await make_plan(db_session, chain(3, 1.5))
    plan_id = plan.id  # a 4xx expires the row
    preview = (await schedule(sched_client, plan_id, horizon_days=5)).json()
    runs = await run_count(db_session, plan_id)
    other_start = (monday + timedelta(days=7)).isoformat()
    for field, value in (
        ("horizon_days", 9),
        ("start_date", other_start),
        ("scope", "full"),
    ):
        r = await schedule(
            sched_client, plan_id, dry_run=False, run_id=preview["run_id"], **{field: value}
        )
        assert r.status_code == 422, (field, r.text)
        errors = r.json()["errors"]
        assert [e["field"] for e in errors] == [field]
        assert "preview" in errors[0]["message"]
        assert await run_count(db_session, plan_id) == runs  # nothing written
        assert await almanac_entries(db_session) == []
    # The preview's own values (or none at all) apply it.
    r = await sched_client.post(
        "/api/v1/scheduler/schedule",
        json={"plan_id": plan_id, "dry_run": False, "run_id": preview["run_id"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["window_start"] == preview["window_start"]
    assert r.json()["window_end"] == preview["window_end"]
    # The run that wrote it is no preview: applying it is a 409 naming the run.
    r = await sched_client.post(
        "/api/v1/scheduler/schedule",
        json={"plan_id": plan_id, "dry_run": False, "run_id": r.json()["run_id"]},
    )
    assert r.status_code == 409, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["run_id"]
    # Another plan's run, or none: a 404 naming run_id (it named no field).
    other = await make_plan(db_session, chain(2, 1.0))
    for body in ({"plan_id": other.id}, {"plan_id": plan_id, "run_id": 2**40}):
        r = await sched_client.post(
            "/api/v1/scheduler/schedule",
            json={"plan_id": plan_id, "dry_run": False, "run_id": preview["run_id"], **body},
        )
        assert r.status_code == 404, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["run_id"], r.text


async def test_a_stale_preview_says_a_task_was_fully_recorded_not_closed(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A task whose whole estimate was recorded after the preview leaves what the solve
    places, but it is still open: the 409 said it "was closed"."""
    plan = await make_plan(
        db_session,
        [{"key": "a", "estimate_hours": 1.0}, {"key": "b", "estimate_hours": 1.0}],
    )
    plan_id = plan.id  # a 4xx expires the row
    preview = (await schedule(sched_client, plan_id, horizon_days=5)).json()
    tasks = (await sched_client.get("/api/v1/planner/tasks", params={"plan": plan_id})).json()
    by_key = {t["key"]: t["id"] for t in tasks["items"]}
    r = await sched_client.post(f"/api/v1/planner/tasks/{by_key['a']}/time", json={"hours": 1})
    assert r.status_code == 200 and r.json()["task"]["status"] == "in_progress", r.text
    r = await sched_client.patch(f"/api/v1/planner/tasks/{by_key['b']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await schedule(
        sched_client, plan_id, dry_run=False, run_id=preview["run_id"], horizon_days=5
    )
    assert r.status_code == 409, r.text
    said = sorted(e["message"] for e in r.json()["errors"])
    assert said == [
        f"task p{plan_id}/a was fully recorded (no hours left to plan)",
        f"task p{plan_id}/b was closed",
    ], said


def test_a_task_with_hours_left_again_is_not_called_new() -> None:
    """The way back: a task fully recorded at the preview whose estimate was raised since."""
    from almanac.scheduler.staleness import changes_since

    old = {"tasks": {}, "recorded": ["p1/a"]}
    new = {"tasks": {"p1/a": "2026-12-01T09:00:00+00:00", "p1/b": "x"}, "recorded": []}
    assert changes_since(old, new) == [
        "task p1/a was given hours to plan again",
        "task p1/b was new",
    ]


def test_a_task_only_placed_by_another_schedule_is_not_called_edited() -> None:
    """Writing a schedule sets `scheduled_start` (and so `updated_at`) on every task it
    places: a preview made before read "plan 1 was rescheduled since; task p1/a was
    edited; …; task p2/c was edited" for tasks nobody edited."""
    from datetime import UTC, datetime

    from almanac.models import Task
    from almanac.scheduler.calendar_model import CalendarInputs
    from almanac.scheduler.staleness import changes_since, fingerprint

    def inputs(written: datetime, estimate: float = 2.0) -> CalendarInputs:
        row = Task(id=7, title="Audit", estimate_hours=estimate, priority=2, status="todo")
        row.updated_at, row.scheduled_start = written, written
        return CalendarInputs(named=1, plans={}, rows={"p2/c": row})

    window = (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC))
    before = fingerprint([], inputs(datetime(2026, 12, 1, tzinfo=UTC)), window)
    placed = fingerprint([], inputs(datetime(2026, 12, 2, tzinfo=UTC)), window)
    assert changes_since(before, placed) == []
    edited = fingerprint([], inputs(datetime(2026, 12, 2, tzinfo=UTC), 3.0), window)
    assert changes_since(before, edited) == ["task p2/c was edited"]
