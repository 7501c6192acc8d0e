"""Sprints (CRUD and report), bad input, and a calendar that is down."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import ApplyResult, CalendarUnavailable, EventSpec, Scope
from almanac.calendars.builtin import BuiltinCalendar
from almanac.calendars.deps import get_calendar
from almanac.models import Plan, SchedulerRun, Task
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client
from tests.scheduler.conftest import Memories

from .conftest import almanac_entries, make_plan, next_monday, parse

URL = "/api/v1/scheduler"


async def test_sprint_crud_and_validation(sched_client: httpx.AsyncClient):
    monday = next_monday(3)
    body = {"week_start": monday.isoformat(), "capacity_hrs": 30, "runway_weeks": 20}
    r = await sched_client.post(f"{URL}/sprints", json=body)
    assert r.status_code == 201, r.text
    sprint = r.json()
    assert sprint["billable_target_pct"] == 60
    r = await sched_client.post(f"{URL}/sprints", json=body)
    assert r.status_code == 200 and r.json() == sprint  # a retry: the sprint it made
    r = await sched_client.post(
        f"{URL}/sprints", json={**body, "week_start": (monday + timedelta(1)).isoformat()}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "week_start"
    r = await sched_client.post(f"{URL}/sprints", json={**body, "capacity_hrs": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "capacity_hrs"
    r = await sched_client.put(f"{URL}/sprints/{sprint['id']}", json={"capacity_hrs": 25})
    assert r.status_code == 200 and r.json()["capacity_hrs"] == 25
    r = await sched_client.get(f"{URL}/sprints")
    assert [s["id"] for s in r.json()] == [sprint["id"]]
    r = await sched_client.get(f"{URL}/sprints/{sprint['id']}")
    assert r.status_code == 200 and r.json()["used_hours"] == 0 and r.json()["warnings"] == []
    r = await sched_client.delete(f"{URL}/sprints/{sprint['id']}")
    assert r.status_code == 204
    r = await sched_client.get(f"{URL}/sprints/{sprint['id']}")
    assert r.status_code == 404


async def test_the_same_sprint_again_is_a_retry_another_for_its_week_a_409(
    sched_client: httpx.AsyncClient,
):
    """A week has one sprint. A POST retried after its answer was lost (the sprint was
    made) was a 409 "already exists", so a client could not tell it from a clash; like
    `remember` with its key, the same body answers the sprint it made. Another capacity or
    target for that week is still a 409 naming what differs: that is a change (PUT)."""
    body = {"week_start": next_monday(5).isoformat(), "capacity_hrs": 30}
    first = await sched_client.post(f"{URL}/sprints", json=body)
    assert first.status_code == 201, first.text
    again = await sched_client.post(f"{URL}/sprints", json={**body, "billable_target_pct": 60})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    other = await sched_client.post(
        f"{URL}/sprints", json={**body, "capacity_hrs": 25, "billable_target_pct": 70}
    )
    assert other.status_code == 409, other.text
    problem = other.json()
    assert {e["field"] for e in problem["errors"]} == {"capacity_hrs", "billable_target_pct"}
    assert f"/sprints/{first.json()['id']}" in problem["detail"]
    listed = await sched_client.get(f"{URL}/sprints")
    assert [s["id"] for s in listed.json()] == [first.json()["id"]]
    unchanged = await sched_client.get(f"{URL}/sprints/{first.json()['id']}")
    assert unchanged.json()["capacity_hrs"] == 30
    # A field left out is not named as differing: the sprint's target is 70 now, and a
    # second add of another capacity alone was told its target (the default) differed.
    body = {"week_start": next_monday(6).isoformat(), "capacity_hrs": 20}
    made = await sched_client.post(f"{URL}/sprints", json={**body, "billable_target_pct": 70})
    assert made.status_code == 201, made.text
    other = await sched_client.post(f"{URL}/sprints", json={**body, "capacity_hrs": 25})
    assert other.status_code == 409, other.text
    assert [e["field"] for e in other.json()["errors"]] == ["capacity_hrs"], other.text


async def test_a_sprint_capacity_below_36_seconds_is_refused(sched_client: httpx.AsyncClient):
    """capacity_hrs 5e-324 made a sprint with no room at all (201); like a task's estimate,
    hours of work start at 0.01."""
    body = {"week_start": next_monday(4).isoformat()}
    for tiny in (5e-324, 1e-9, 0.005):
        r = await sched_client.post(f"{URL}/sprints", json={**body, "capacity_hrs": tiny})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "capacity_hrs"
        r = await sched_client.put(f"{URL}/sprints/1", json={"capacity_hrs": tiny})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "capacity_hrs"


async def test_sprint_shapes_schedule_and_reports_warnings(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    monday = next_monday()
    r = await sched_client.post(
        f"{URL}/sprints",
        json={"week_start": monday.isoformat(), "capacity_hrs": 8, "runway_weeks": 6},
    )
    sprint_id = r.json()["id"]
    tasks = [
        {"key": "billable", "estimate_hours": 3.0, "billable": True},
        {"key": "internal", "estimate_hours": 4.0},
        {"key": "admin", "estimate_hours": 3.0, "priority": 1},
    ]
    plan_id = (await make_plan(db_session, tasks)).id
    r = await sched_client.post(
        f"{URL}/schedule",
        json={
            "plan_id": plan_id,
            "start_date": monday.isoformat(),
            "horizon_days": 5,
            "dry_run": False,
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    placed = sum(
        (parse(b["end"]) - parse(b["start"])).total_seconds() / 3600 for b in out["blocks"]
    )
    assert placed <= 8  # the sprint's weekly capacity
    assert {u["task_key"] for u in out["unplaced"]}  # 10 h of work do not fit in 8 h
    assert "billable" in {b["task_key"] for b in out["blocks"]}  # the 60 % target pulls it in

    report = (await sched_client.get(f"{URL}/sprints/{sprint_id}")).json()
    assert report["used_hours"] == pytest.approx(placed)
    assert report["billable_hours"] == 3
    # One definition everywhere (billable ÷ hours), and the report says which hours.
    assert report["billable_share_pct"] == pytest.approx(round(300 / placed, 1))
    assert any(
        "billable share of the scheduled hours" in w and "under the 60% target" in w
        for w in report["warnings"]
    )
    assert (report["worked_hours"], report["worked_billable_share_pct"]) == (0, None)
    assert report["plan_ids"] == [plan_id]  # the plans a replan can move to fit the week
    assert not any("capacity exceeded" in w for w in report["warnings"])
    # No daily max was said: days the scheduler filled within working hours are not over.
    assert not any(w.startswith("overbooked on ") for w in report["warnings"])

    await sched_client.put(f"{URL}/sprints/{sprint_id}", json={"capacity_hrs": 2})
    await memory.add("constraint", "max 1 hour a day")  # the user's cap, as the scheduler reads it
    report = (await sched_client.get(f"{URL}/sprints/{sprint_id}")).json()
    assert any("capacity exceeded" in w for w in report["warnings"])
    assert any(
        w.startswith("overbooked on ") and w.endswith(", above the daily max of 1 h")
        for w in report["warnings"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plan_id": 1, "horizon_days": 0}, "horizon_days"),
        ({"plan_id": 1, "horizon_days": 61}, "horizon_days"),
        ({"plan_id": 0}, "plan_id"),
        ({}, "plan_id"),
        ({"plan_id": 1, "start_date": "next week"}, "start_date"),
        ({"plan_id": 1, "dry_run": "perhaps"}, "dry_run"),
        ({"plan_id": 1, "surprise": 1}, "surprise"),
        ({"plan_id": 1, "start_date": "2001-01-01"}, "start_date"),
    ],
)
async def test_schedule_bad_input_names_the_field(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, body: dict[str, Any], field: str
):
    if body.get("plan_id") == 1:
        body = {**body, "plan_id": (await make_plan(db_session, [{"key": "a"}])).id}
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_task_with_deadline_before_earliest_start_is_422(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    start = datetime(
        monday.year, monday.month, monday.day, 12, tzinfo=datetime.now().astimezone().tzinfo
    )
    tasks = [{"key": "odd", "earliest_start": start, "deadline": start - timedelta(hours=1)}]
    plan_id = (await make_plan(db_session, tasks)).id
    r = await sched_client.post(
        f"{URL}/schedule", json={"plan_id": plan_id, "start_date": monday.isoformat()}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "tasks.odd"


class DownOnWrite(BuiltinCalendar):
    """Reads work; writing fails like a CalDAV server going away mid-request."""

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        await super().apply(desired, window_start, window_end, only)  # rows written, then fails
        raise CalendarUnavailable("calendar server went away")


class DownOnRead(BuiltinCalendar):
    async def events(self, start: datetime, end: datetime) -> list[Any]:
        raise CalendarUnavailable("calendar server unreachable")


@pytest.mark.parametrize("provider", [DownOnWrite, DownOnRead])
async def test_calendar_down_is_503_and_writes_nothing(
    sched_state: AppState, db_session: AsyncSession, provider: type[BuiltinCalendar]
):
    app = app_in_transaction(sched_state, db_session)

    app.dependency_overrides[get_calendar] = lambda: provider(db_session)
    plan_id = (await make_plan(db_session, [{"key": "a"}, {"key": "b"}])).id
    await db_session.commit()  # a savepoint: the failed request must roll back only its own
    async with http_client(app) as client:
        body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "dry_run": False}
        r = await client.post(f"{URL}/schedule", json=body)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        if provider is DownOnRead:
            r = await client.post(f"{URL}/schedule", json={**body, "dry_run": True})
            assert r.status_code == 503
    assert await almanac_entries(db_session) == []
    plan = (await db_session.scalars(select(Plan).where(Plan.id == plan_id))).one()
    assert plan.status == "approved"
    runs = (await db_session.scalars(select(SchedulerRun))).all()
    assert runs == []
    tasks = (await db_session.scalars(select(Task).where(Task.plan_id == plan_id))).all()
    assert all(t.scheduled_start is None for t in tasks)


async def test_sprint_report_also_gives_the_worked_hours_and_their_billable_share(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # Weeks already past: time records name when the work was done, never ahead.
    monday = next_monday() - timedelta(days=21)
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": monday.isoformat(), "capacity_hrs": 20}
    )
    sprint_id = r.json()["id"]
    await make_plan(
        db_session,
        [{"key": "paid", "estimate_hours": 3.0, "billable": True}, {"key": "admin"}],
    )
    rows = {t.plan_task_key: t.id for t in await db_session.scalars(select(Task))}
    tuesday = datetime.combine(monday + timedelta(days=1), time(11), tzinfo=UTC)
    # Logged on open tasks: the runs stay in progress; they are worked all the same.
    for key, hours in (("paid", 1.5), ("admin", 0.5)):
        r = await sched_client.post(
            f"/api/v1/planner/tasks/{rows[key]}/time",
            json={"hours": hours, "ended_at": tuesday.isoformat()},
        )
        assert r.status_code == 200, r.text
    # A week later, on the same open task (the same run): that week's, not this sprint's.
    r = await sched_client.post(
        f"/api/v1/planner/tasks/{rows['paid']}/time",
        json={"hours": 4, "ended_at": (tuesday + timedelta(days=7)).isoformat()},
    )
    assert r.status_code == 200, r.text
    report = (await sched_client.get(f"{URL}/sprints/{sprint_id}")).json()
    assert report["worked_hours"] == 2.0
    assert report["worked_billable_hours"] == 1.5
    assert report["worked_billable_share_pct"] == 75.0
    assert report["used_hours"] == 0 and report["billable_share_pct"] is None
    r = await sched_client.post(
        f"{URL}/sprints",
        json={"week_start": (monday + timedelta(days=7)).isoformat(), "capacity_hrs": 20},
    )
    later = (await sched_client.get(f"{URL}/sprints/{r.json()['id']}")).json()
    assert (later["worked_hours"], later["worked_billable_share_pct"]) == (4.0, 100.0)


async def test_a_sprint_capacity_of_true_is_refused(sched_client: httpx.AsyncClient):
    """JSON true was read as 1: {"capacity_hrs": true} made a sprint of 1 h (and an update
    set 1 h), as it recorded an hour on a task before types.NOT_BOOL."""
    monday = next_monday(5)
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": monday.isoformat(), "capacity_hrs": True}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "capacity_hrs", r.text
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": monday.isoformat(), "capacity_hrs": 20}
    )
    assert r.status_code == 201, r.text
    sprint = r.json()
    r = await sched_client.put(f"{URL}/sprints/{sprint['id']}", json={"capacity_hrs": True})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "capacity_hrs", r.text
    r = await sched_client.get(f"{URL}/sprints/{sprint['id']}")
    assert r.json()["capacity_hrs"] == 20, r.text
