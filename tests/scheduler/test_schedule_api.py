"""POST /schedule and /replan against Postgres and the built-in calendar."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import CalendarEntry, Plan, SchedulerRun, Task

from .conftest import (
    add_meeting,
    almanac_entries,
    at,
    make_plan,
    next_monday,
    overlaps,
    parse,
    run_count,
)

URL = "/api/v1/scheduler"
TASKS = [
    {"key": "research", "estimate_hours": 2.0, "priority": 3},
    {"key": "draft", "estimate_hours": 3.0, "depends_on": ["research"], "billable": True},
    {"key": "review", "estimate_hours": 1.0, "depends_on": ["draft"]},
]


async def schedule(client: httpx.AsyncClient, plan_id: int, **kw: object) -> httpx.Response:
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5, **kw}
    return await client.post(f"{URL}/schedule", json=body)


async def test_preview_writes_no_events(sched_client: httpx.AsyncClient, db_session: AsyncSession):
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["applied"] is False
    assert {b["task_key"] for b in body["blocks"]} == {"research", "draft", "review"}
    assert (
        sum((parse(b["end"]) - parse(b["start"])).total_seconds() / 3600 for b in body["blocks"])
        == 6
    )
    assert body["unplaced"] == [] and body["violations"] == []
    assert body["solver"]["status"] in ("optimal", "feasible", "greedy fallback")
    # Nothing is due and everything fits: both floors reached, by the figures they name.
    floors = {f["measure"]: f for f in body["solver"]["floors"]}
    assert set(floors) == {"weighted hours", "deadlines met"}
    assert all(f["reached"] and f["value"] >= f["floor"] for f in floors.values())
    assert body["calendar"] is None
    assert await almanac_entries(db_session) == []
    await db_session.refresh(plan)
    assert plan.status == "approved"
    run = (await db_session.scalars(select(SchedulerRun))).one()
    assert run.status == "preview" and run.metadata_["dry_run"] is True
    assert run.metadata_["calendar_provider"] == "builtin"


async def test_write_moves_plan_to_scheduled_and_repeat_creates_nothing(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["applied"] is True and first["plan_status"] == "scheduled"
    ids = sorted(b["almanac_id"] for b in first["blocks"])
    assert sorted(first["calendar"]["created"]) == ids
    entries = await almanac_entries(db_session)
    assert sorted(e.almanac_id or "" for e in entries) == ids
    assert all(e.almanac_id and e.almanac_id.startswith(f"plan{plan.id}-") for e in entries)
    await db_session.refresh(plan)
    assert plan.status == "scheduled"
    tasks = (await db_session.scalars(select(Task).where(Task.plan_id == plan.id))).all()
    for task in tasks:
        await db_session.refresh(task)
        mine = [parse(b["start"]) for b in first["blocks"] if b["task_key"] == task.plan_task_key]
        assert task.scheduled_start == min(mine)

    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    again = r.json()["calendar"]
    assert again["created"] == [] and again["updated"] == [] and again["deleted"] == []
    assert sorted(again["unchanged"]) == ids
    assert len(await almanac_entries(db_session)) == len(ids)
    # Nothing changed: no new run is recorded and the answer names the run already written.
    assert r.json()["run_id"] == first["run_id"]
    run = (
        await db_session.scalars(select(SchedulerRun).order_by(SchedulerRun.id.desc()).limit(1))
    ).one()
    assert run.id == first["run_id"] and run.status == "scheduled"
    assert sorted(run.metadata_["calendar_event_ids"]["created"]) == ids


async def test_draft_plan_is_409_and_unknown_plan_404(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS, status="draft")
    r = await schedule(sched_client, plan.id)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "draft" in r.json()["detail"]
    assert f"almanac approve {plan.id})" in r.json()["detail"]  # the plan's own, not ID
    assert await run_count(db_session, plan.id) == 0
    r = await schedule(sched_client, 987654)
    assert r.status_code == 404


async def test_user_meeting_is_avoided_and_kept(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    m0, m1 = at(monday, 9), at(monday, 13)
    await add_meeting(db_session, m0, m1, "Client workshop")
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    blocks = r.json()["blocks"]
    assert blocks
    for b in blocks:
        assert not overlaps(parse(b["start"]), parse(b["end"]), m0, m1), b
    # The earliest free time after the workshop is used: scheduling works around it.
    assert min(parse(b["start"]) for b in blocks) == m1
    user = (
        await db_session.scalars(select(CalendarEntry).where(CalendarEntry.almanac_id.is_(None)))
    ).one()
    assert user.title == "Client workshop"


async def test_other_plans_blocks_are_kept_and_avoided(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    first = await make_plan(db_session, [{"key": "a", "estimate_hours": 2.0}], title="One")
    second = await make_plan(db_session, [{"key": "b", "estimate_hours": 2.0}], title="Two")
    r1 = await schedule(sched_client, first.id, dry_run=False)
    r2 = await schedule(sched_client, second.id, dry_run=False)
    assert r1.status_code == r2.status_code == 200, r2.text
    assert r2.json()["calendar"]["deleted"] == []
    ids = {e.almanac_id for e in await almanac_entries(db_session)}
    assert ids == {f"plan{first.id}-a-0", f"plan{second.id}-b-0"}
    a, b = r1.json()["blocks"][0], r2.json()["blocks"][0]
    assert not overlaps(parse(a["start"]), parse(a["end"]), parse(b["start"]), parse(b["end"]))


async def test_replan_after_new_meeting_moves_few_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    tasks = [{"key": f"t{n}", "estimate_hours": 1.0} for n in range(8)]
    plan = await make_plan(db_session, tasks)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    before = {b["almanac_id"]: b for b in r.json()["blocks"]}
    victim = min(before.values(), key=lambda b: b["start"])
    v0, v1 = parse(victim["start"]), parse(victim["end"])
    await add_meeting(db_session, v0, v1 + timedelta(minutes=30), "Urgent call")

    r = await sched_client.post(
        f"{URL}/replan", json={"plan_id": plan.id, "reason": "urgent call", "dry_run": False}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["reason"] == "urgent call" and out["previous_run_id"] is not None
    assert out["moves"], out
    assert any(m["task_key"] == victim["task_key"] for m in out["moves"])
    moved = next(m for m in out["moves"] if m["task_key"] == victim["task_key"])
    assert parse(moved["from_start"]) == v0 and "busy" in moved["why"]
    assert 0 < out["moved_share"] <= 0.25
    for b in out["blocks"]:
        assert not overlaps(parse(b["start"]), parse(b["end"]), v0, v1 + timedelta(minutes=30))
    assert out["calendar"]["created"] == [] or len(out["calendar"]["created"]) <= 2


async def test_replan_scope_full_re_optimises_and_a_bad_scope_is_422(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan_id = (await make_plan(db_session, TASKS)).id
    r = await schedule(sched_client, plan_id, dry_run=False)
    assert r.status_code == 200, r.text
    assert r.json()["solver"]["scope"] == ""  # a first schedule
    runs = await run_count(db_session, plan_id)
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id, "scope": "all"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "scope" in [e["field"] for e in r.json()["errors"]]
    assert await run_count(db_session, plan_id) == runs  # nothing written
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id})
    assert r.status_code == 200, r.text
    assert r.json()["solver"]["scope"] == "repair"  # the default: a repair
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id, "scope": "full"})
    assert r.status_code == 200, r.text
    assert r.json()["solver"]["scope"] == "full"
    r = await schedule(sched_client, plan_id, scope="full")
    assert r.status_code == 200 and r.json()["solver"]["scope"] == "full", r.text


async def test_replan_without_written_schedule_is_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id})
    assert r.status_code == 409


async def test_pinned_block_survives_replan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    review = next(b for b in r.json()["blocks"] if b["task_key"] == "review")
    friday = next_monday() + timedelta(days=4)
    new_start, new_end = at(friday, 15), at(friday, 16)
    r = await sched_client.put(
        f"{URL}/calendar/{review['almanac_id']}",
        json={"start": new_start.isoformat(), "end": new_end.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["block"]["fixed"] is True
    task = (
        await db_session.scalars(
            select(Task).where(Task.plan_id == plan.id, Task.plan_task_key == "review")
        )
    ).one()
    await db_session.refresh(task)
    assert [parse(p["start"]) for p in task.metadata_["pinned"]] == [new_start]
    entry = (
        await db_session.scalars(
            select(CalendarEntry).where(CalendarEntry.almanac_id == review["almanac_id"])
        )
    ).one()
    assert entry.start_at == new_start

    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id, "dry_run": False})
    assert r.status_code == 200, r.text
    kept = [b for b in r.json()["blocks"] if b["task_key"] == "review"]
    assert [(parse(b["start"]), b["fixed"]) for b in kept] == [(new_start, True)]
    assert r.json()["violations"] == []


async def test_a_moved_block_moves_its_tasks_scheduled_start(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A block moved by hand left the task's `scheduled_start` where the solve had put it."""
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    review = next(b for b in r.json()["blocks"] if b["task_key"] == "review")
    task = (
        await db_session.scalars(
            select(Task).where(Task.plan_id == plan.id, Task.plan_task_key == "review")
        )
    ).one()
    assert task.scheduled_start == parse(review["start"])
    friday = next_monday() + timedelta(days=4)
    new_start, new_end = at(friday, 15), at(friday, 16)
    r = await sched_client.put(
        f"{URL}/calendar/{review['almanac_id']}",
        json={"start": new_start.isoformat(), "end": new_end.isoformat()},
    )
    assert r.status_code == 200, r.text
    r = await sched_client.get(f"/api/v1/planner/tasks/{task.id}")
    assert parse(r.json()["scheduled_start"]) == new_start, r.text


async def test_move_rejects_foreign_and_bad_ids(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    uid = await add_meeting(db_session, at(monday, 9), at(monday, 10), "Dentist")
    body = {"start": at(monday, 11).isoformat(), "end": at(monday, 12).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{uid}", json=body)
    assert r.status_code == 404 and "not an Almanac block" in r.json()["detail"]
    r = await sched_client.put(f"{URL}/calendar/plan999999-x-0", json=body)
    assert r.status_code == 404
    plan_id = (await make_plan(db_session, TASKS)).id  # rolled-back requests expire rows
    await schedule(sched_client, plan_id, dry_run=False)
    bad = {"start": at(monday, 11, 7).isoformat(), "end": at(monday, 12).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/plan{plan_id}-review-0", json=bad)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"
    naive = {"start": "2030-01-07T11:00:00", "end": "2030-01-07T12:00:00"}
    r = await sched_client.put(f"{URL}/calendar/plan{plan_id}-review-0", json=naive)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"
    long = {"start": at(monday, 11).isoformat(), "end": at(monday, 15).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/plan{plan_id}-review-0", json=long)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end"


async def test_a_block_moved_beyond_the_horizon_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A block moved to 1901 or 2199 was pinned there (and the calendar read over the
    centuries between); a move stays where a schedule could have placed the block: from
    60 days back (the horizon) to 366 + 60 days ahead (the latest start and its horizon)."""
    plan_id = (await make_plan(db_session, TASKS)).id
    await schedule(sched_client, plan_id, dry_run=False)
    aid = f"plan{plan_id}-review-0"
    monday = next_monday()
    for day, reason in (
        # Fixed Mondays: next Monday's date in those years fails on a 29 February.
        (date(2199, 1, 7), "426 days in the future"),
        (date(1901, 1, 7), "60 days in the past"),
        (monday + timedelta(weeks=62), "426 days in the future"),
        (monday - timedelta(weeks=10), "60 days in the past"),
    ):
        body = {"start": at(day, 11).isoformat(), "end": at(day, 12).isoformat()}
        r = await sched_client.put(f"{URL}/calendar/{aid}", json=body)
        assert r.status_code == 422, (day, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert [e["field"] for e in errors] == ["start", "end"], errors
        assert all(reason in e["message"] for e in errors), errors


async def test_a_schedule_starting_more_than_a_year_ahead_is_refused(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """start_date 2199-01-05 placed and wrote blocks in 2199."""
    plan_id = (await make_plan(db_session, TASKS)).id
    far = next_monday() + timedelta(weeks=40)  # next year's planning still works
    r = await sched_client.post(
        f"{URL}/schedule", json={"plan_id": plan_id, "start_date": far.isoformat()}
    )
    assert r.status_code == 200 and r.json()["blocks"], r.text
    for start in ("2199-01-05", (next_monday() + timedelta(weeks=53)).isoformat()):
        body = {"plan_id": plan_id, "start_date": start, "dry_run": False}
        r = await sched_client.post(f"{URL}/schedule", json=body)
        assert r.status_code == 422, (start, r.text)
        (error,) = r.json()["errors"]
        assert error["field"] == "start_date" and "366 days ahead" in error["message"]


async def test_calendar_view_lists_blocks_and_meetings(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    await add_meeting(db_session, at(monday, 9), at(monday, 10), "Standup")
    plan = await make_plan(db_session, TASKS)
    await schedule(sched_client, plan.id, dry_run=False)
    r = await sched_client.get(
        f"{URL}/calendar",
        params={"start_date": monday.isoformat(), "end_date": (monday + timedelta(4)).isoformat()},
    )
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert [e["title"] for e in events if not e["almanac"]] == ["Standup"]
    assert len([e for e in events if e["almanac"]]) >= 3
    r = await sched_client.get(
        f"{URL}/calendar",
        params={"start_date": monday.isoformat(), "end_date": (monday - timedelta(1)).isoformat()},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "end_date"


async def test_plan_rows_untouched_by_preview(db_session: AsyncSession):
    # Guard for the helper itself: a plan made by make_plan starts approved with open tasks.
    plan = await make_plan(db_session, TASKS)
    assert isinstance(plan, Plan) and plan.status == "approved"


async def test_invalid_schedule_is_reported_not_written(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
):
    from almanac.scheduler import service
    from almanac.scheduler.core import Violation

    monkeypatch.setattr(
        service, "validate", lambda p, s: [Violation("busy_overlap", "overlaps a meeting")]
    )
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["applied"] is False and out["plan_status"] == "approved"
    assert out["violations"] == ["busy_overlap: overlaps a meeting"]
    assert any("failed validation" in w for w in out["warnings"])
    assert await almanac_entries(db_session) == []
    run = (await db_session.scalars(select(SchedulerRun))).one()
    assert run.status == "invalid"


async def test_active_plan_can_be_replanned_and_stays_active(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    plan_id = plan.id
    assert (await schedule(sched_client, plan_id, dry_run=False)).status_code == 200
    plan.status = "active"
    await db_session.flush()
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan_id, "dry_run": False})
    assert r.status_code == 200, r.text
    assert r.json()["plan_status"] == "active" and r.json()["moves"] == []
    # Scheduling work under way again (a shorter window, say) replaces its future blocks and
    # keeps it active; it was a 409 that only named the status machine.
    r = await schedule(sched_client, plan_id, dry_run=False, horizon_days=3)
    assert r.status_code == 200, r.text
    assert r.json()["plan_status"] == "active" and r.json()["blocks"]
    await db_session.refresh(plan)
    assert plan.status == "active"


async def test_replan_of_a_never_scheduled_plan_is_409_naming_the_plan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id, "dry_run": False})
    assert r.status_code == 409, r.text
    assert r.json()["errors"][0]["field"] == "plan_id"
    assert "use /schedule" in r.json()["errors"][0]["message"]


async def test_replan_after_a_dependency_is_done_does_not_warn_about_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, TASKS)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    rows = {t.plan_task_key: t for t in await db_session.scalars(select(Task))}
    r = await sched_client.patch(
        f"/api/v1/planner/tasks/{rows['research'].id}", json={"status": "done"}
    )
    assert r.status_code == 200, r.text
    r = await sched_client.patch(
        f"/api/v1/planner/tasks/{rows['review'].id}", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id})
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert not any("research" in w.lower() for w in warnings), warnings
    assert {b["task_key"] for b in r.json()["blocks"]} == {"draft"}


async def test_replan_names_a_cancelled_dependency_by_its_title(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The warning named it by the calendar's internal id ('p12/draft')."""
    plan = await make_plan(db_session, TASKS)
    assert (await schedule(sched_client, plan.id, dry_run=False)).status_code == 200
    rows = {t.plan_task_key: t for t in await db_session.scalars(select(Task))}
    rows["draft"].title = "Write the first draft"
    r = await sched_client.patch(
        f"/api/v1/planner/tasks/{rows['draft'].id}", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id})
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert (
        "task 'review': dependency 'Write the first draft' is cancelled; ignored, the task no "
        "longer waits for it"
    ) in warnings, warnings
    assert not any(f"p{plan.id}/" in w for w in warnings), warnings


async def test_another_clients_task_titles_stay_out_of_a_plans_warnings(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The whole calendar is solved at once, so a warning about another plan's task reaches
    this plan's answer: naming dependencies by title must not hand it another client's."""
    other = await make_plan(db_session, TASKS, title="Acme")
    other.client_id = 2
    rows = {t.plan_task_key: t for t in await db_session.scalars(select(Task))}
    rows["draft"].title = "Acme merger memo"
    await db_session.flush()
    r = await sched_client.patch(
        f"/api/v1/planner/tasks/{rows['draft'].id}", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    mine = await make_plan(db_session, TASKS, title="Mine")
    mine.client_id = 1
    await db_session.flush()
    r = await schedule(sched_client, mine.id)
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert not any("merger" in w.lower() for w in warnings), warnings
    # The other plan's own answer still names it by title.
    r = await schedule(sched_client, other.id)
    assert r.status_code == 200, r.text
    assert any("'Acme merger memo' is cancelled" in w for w in r.json()["warnings"]), r.json()


async def test_calendar_view_survives_a_block_id_naming_no_possible_plan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A block id comes back from the calendar (a CalDAV UID, Google's private property),
    so its plan number is whatever the calendar holds: one past Postgres' integer range
    was a 500 when the view looked up the block's plan (its client, its warnings)."""
    monday = next_monday()
    for aid in ("plan99999999999999999999-draft-0", "plan2147483648-draft-1"):
        db_session.add(
            CalendarEntry(
                uid=f"odd-{aid}",
                title="Odd",
                start_at=at(monday, 9),
                end_at=at(monday, 10),
                almanac_id=aid,
            )
        )
    await db_session.flush()
    r = await sched_client.get(
        f"{URL}/calendar",
        params={"start_date": monday.isoformat(), "end_date": monday.isoformat()},
    )
    assert r.status_code == 200, r.text
    odd = [e for e in r.json()["events"] if e["title"] == "Odd"]
    assert len(odd) == 2 and all(e["client_id"] is None for e in odd), odd


async def test_a_window_with_no_working_time_is_refused_and_keeps_the_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A weekend-only window answered 200 with every task unplaced and, written, cleared the
    plan's weekday blocks: an impossible window is a 422 naming start_date."""
    plan_id = (await make_plan(db_session, TASKS)).id
    r = await schedule(sched_client, plan_id, dry_run=False)
    assert r.status_code == 200, r.text
    before = {(e.almanac_id, e.start_at) for e in await almanac_entries(db_session)}
    runs = await run_count(db_session, plan_id)
    saturday = next_monday() + timedelta(days=5)
    for dry_run in (True, False):
        r = await schedule(
            sched_client, plan_id, start_date=saturday.isoformat(), horizon_days=2, dry_run=dry_run
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "start_date"
        assert "no working time" in r.json()["errors"][0]["message"]
    assert {(e.almanac_id, e.start_at) for e in await almanac_entries(db_session)} == before
    assert await run_count(db_session, plan_id) == runs
    # A window with a working day in it still schedules.
    r = await schedule(sched_client, plan_id, start_date=saturday.isoformat(), horizon_days=3)
    assert r.status_code == 200 and r.json()["blocks"], r.text


async def _another_clients_chain_under_a_meeting(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> tuple[Plan, Plan]:
    """Client 2's written four-step chain ("Merger step 0..3") with a meeting on its first
    block, and client 1's one-task plan: scheduling the second moves the first's blocks."""
    chain = [
        {"key": f"t{i}", "title": f"Merger step {i}", "estimate_hours": 3.0}
        | ({"depends_on": [f"t{i - 1}"]} if i else {})
        for i in range(4)
    ]
    other = await make_plan(db_session, chain, title="Acme")
    other.client_id = 2
    await db_session.flush()
    r = await schedule(sched_client, other.id, dry_run=False, horizon_days=1)
    assert r.status_code == 200, r.text
    first = min(r.json()["blocks"], key=lambda b: b["start"])
    await add_meeting(
        db_session,
        datetime.fromisoformat(first["start"]),
        datetime.fromisoformat(first["end"]),
        "Clash",
    )
    mine = await make_plan(db_session, [{"key": "memo", "estimate_hours": 1.0}], title="Mine")
    mine.client_id = 1
    await db_session.flush()
    return other, mine


async def test_another_clients_task_titles_stay_out_of_moves_and_placed(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """Scheduling one plan moves and adds blocks of other plans (the whole calendar is solved
    at once); `moves` and `placed` named them by title, so another client's titles reached
    this plan's answer (and the CLI, MCP and dashboard previews that print them)."""
    other, mine = await _another_clients_chain_under_a_meeting(sched_client, db_session)
    r = await schedule(sched_client, mine.id, horizon_days=2)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [m for m in out["moves"] if m["plan_id"] == other.id], out["moves"]
    assert [b for b in out["placed"] if b["plan_id"] == other.id], out["placed"]
    assert "merger" not in r.text.lower(), r.text
    assert any(f"{other.id}/t0" in m["why"] for m in out["moves"]), out["moves"]
    assert {m["title"] for m in out["moves"]} <= {f"t{i}" for i in range(4)}, out["moves"]
    # The other plan's own answer still names its tasks by title.
    r = await schedule(sched_client, other.id, horizon_days=2)
    assert r.status_code == 200, r.text
    assert any(b["title"].startswith("Merger step") for b in r.json()["blocks"]), r.text


async def test_a_plans_stored_runs_keep_another_clients_titles_out(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """The live answer named another plan's tasks by key, but the run it stored (read back
    to apply a preview, and kept) quoted them by title in the other plan's block reasons
    ("after 'Merger step 0'")."""
    other, mine = await _another_clients_chain_under_a_meeting(sched_client, db_session)
    r = await schedule(sched_client, mine.id, horizon_days=2)
    assert r.status_code == 200, r.text
    assert [b for b in r.json()["placed"] if b["plan_id"] == other.id], r.text
    applied = await schedule(
        sched_client, mine.id, horizon_days=2, dry_run=False, run_id=r.json()["run_id"]
    )
    assert applied.status_code == 200, applied.text
    # Applied again (a retry): the stored answer comes back.
    again = await schedule(
        sched_client, mine.id, horizon_days=2, dry_run=False, run_id=r.json()["run_id"]
    )
    # Said to be the first write's answer, with nothing written now (the CLI said
    # "written" again, as if it had written once more).
    assert again.status_code == 200 and again.json() == {**applied.json(), "replayed": True}
    assert applied.json()["replayed"] is False
    assert "merger" not in applied.text.lower()
    runs = list(
        await db_session.scalars(select(SchedulerRun).where(SchedulerRun.plan_id == mine.id))
    )
    assert {run.status for run in runs} == {"applied", "scheduled"}
    for run in runs:
        stored = json.dumps([run.schedule_blocks, run.metadata_])
        assert "merger" not in stored.lower(), stored
        assert f"'{other.id}/t0'" in stored
    # The other plan's own answer still names its tasks by title.
    r = await schedule(sched_client, other.id, horizon_days=2)
    assert any(b["title"].startswith("Merger step") for b in r.json()["blocks"]), r.text


async def test_a_preview_applied_keeps_the_moved_plans_own_titles_in_its_run(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A preview stores other plans' blocks with their titles hidden (by key, for the
    previewing plan's reader); applying it recorded the moved plan's new run from those
    rows, so that plan's own run read "after '<plan>/t0'" for its own tasks where a run
    written directly says "after 'Merger step 0'"."""
    other, mine = await _another_clients_chain_under_a_meeting(sched_client, db_session)
    r = await schedule(sched_client, mine.id, horizon_days=2)
    assert r.status_code == 200, r.text
    applied = await schedule(
        sched_client, mine.id, horizon_days=2, dry_run=False, run_id=r.json()["run_id"]
    )
    assert applied.status_code == 200, applied.text
    moved = [
        run
        for run in await db_session.scalars(
            select(SchedulerRun).where(SchedulerRun.plan_id == other.id)
        )
        if (run.metadata_ or {}).get("moved_by_plan") == mine.id
    ]
    assert len(moved) == 1
    stored = json.dumps([moved[0].schedule_blocks, moved[0].metadata_])
    assert "after 'Merger step" in stored, stored
    assert f"'{other.id}/t" not in stored, stored


async def test_a_schedule_says_when_whole_slots_make_blocks_longer_than_estimates(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """Calibrated estimates (2.05 h, 0.7 h) took whole 15-minute slots (2.25 h, 0.75 h):
    the plan's blocks were 3 h for 2.75 h of estimates, and nothing said so."""
    plan = await make_plan(
        db_session, [{"key": "a", "estimate_hours": 2.05}, {"key": "b", "estimate_hours": 0.7}]
    )
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat()}
    out = (await sched_client.post(f"{URL}/schedule", json=body)).json()
    said = [w for w in out["warnings"] if "whole 15-minute slots" in w]
    assert said == [
        "blocks are whole 15-minute slots: this plan's 2.75 h still to do take 3 h of the "
        "calendar (each task rounded up)"
    ]
    hours = sum(
        (datetime.fromisoformat(b["end"]) - datetime.fromisoformat(b["start"])).total_seconds()
        for b in out["blocks"]
    )
    assert hours / 3600 == 3.0
    # On the grid: nothing to say.
    whole = await make_plan(db_session, [{"key": "c", "estimate_hours": 1.5}])
    body = {"plan_id": whole.id, "start_date": next_monday().isoformat()}
    out = (await sched_client.post(f"{URL}/schedule", json=body)).json()
    assert not [w for w in out["warnings"] if "slots" in w]
