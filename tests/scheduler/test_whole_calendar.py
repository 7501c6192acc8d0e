"""One schedule for the whole calendar: limits across plans, exact previews, checked moves."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, SchedulerRun

from .conftest import (
    TZ,
    Memories,
    add_meeting,
    almanac_entries,
    at,
    make_plan,
    next_monday,
    parse,
    run_count,
)

URL = "/api/v1/scheduler"


def chain(n: int, hours: float, priority: int = 2) -> list[dict[str, object]]:
    return [
        {"key": f"t{i}", "estimate_hours": hours, "priority": priority}
        | ({"depends_on": [f"t{i - 1}"]} if i else {})
        for i in range(n)
    ]


async def schedule(client: httpx.AsyncClient, plan_id: int, **kw: object) -> httpx.Response:
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5, **kw}
    return await client.post(f"{URL}/schedule", json=body)


async def test_sprint_capacity_holds_across_two_plans(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": monday.isoformat(), "capacity_hrs": 10}
    )
    assert r.status_code == 201, r.text
    a = await make_plan(db_session, chain(4, 2.0), title="A")
    b = await make_plan(db_session, chain(4, 2.0), title="B")
    ra = await schedule(sched_client, a.id, dry_run=False)
    assert ra.status_code == 200, ra.text
    rb = await schedule(sched_client, b.id, dry_run=False)
    assert rb.status_code == 200, rb.text
    entries = await almanac_entries(db_session)
    hours = sum((e.end_at - e.start_at).total_seconds() / 3600 for e in entries)
    assert hours <= 10  # not 16: the second plan saw the first
    report = (await sched_client.get(f"{URL}/sprints/{r.json()['id']}")).json()
    assert report["used_hours"] <= 10
    assert not any("exceeded" in w for w in report["warnings"])
    # What did not fit is listed with its cause, per plan.
    unplaced = rb.json()["unplaced"]
    assert unplaced and all(u["cause"] for u in unplaced)


async def test_a_sprint_caps_its_own_week_not_the_others_in_the_horizon(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A sprint of 8 h on the second week of a two-week solve capped the first week to 8 h
    too (the tightest sprint held for every week): work that fitted the free first week
    was left unplaced or late."""
    monday = next_monday()
    r = await sched_client.post(
        f"{URL}/sprints",
        json={"week_start": (monday + timedelta(days=7)).isoformat(), "capacity_hrs": 2},
    )
    assert r.status_code == 201, r.text
    plan = await make_plan(db_session, chain(6, 2.0), title="A")
    r = await schedule(sched_client, plan.id, dry_run=False, horizon_days=14)
    assert r.status_code == 200, r.text
    assert r.json()["unplaced"] == [], r.json()["unplaced"]
    per_week: dict[int, float] = defaultdict(float)
    for e in await almanac_entries(db_session):
        week = (e.start_at.astimezone(TZ).date() - monday).days // 7
        per_week[week] += (e.end_at - e.start_at).total_seconds() / 3600
    assert per_week[0] == 12, per_week  # the first week has no sprint: all of it fits there
    assert per_week[1] <= 2, per_week


async def test_work_left_out_by_a_sprints_capacity_says_so(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A task left out because its week's sprint was full was said to have lost "the free
    time in the horizon ... to other work", though that week's days were empty."""
    monday = next_monday()
    r = await sched_client.post(
        f"{URL}/sprints", json={"week_start": monday.isoformat(), "capacity_hrs": 2}
    )
    assert r.status_code == 201, r.text
    plan = await make_plan(
        db_session, [{"key": "a", "estimate_hours": 2.0}] + [{"key": "b", "estimate_hours": 2.0}]
    )
    r = await schedule(sched_client, plan.id, horizon_days=5)
    assert r.status_code == 200, r.text
    (left,) = r.json()["unplaced"]
    assert f"past the capacity of the week of {monday:%a %d %b}" in left["detail"], left


async def test_daily_maximum_holds_across_plans(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    text = "No more than 5 hours of focused work per day"
    [fact_id] = await memory.add("preference", text)
    a = await make_plan(db_session, chain(3, 2.0, priority=3), title="A")
    b = await make_plan(db_session, chain(3, 2.0, priority=3), title="B")
    for plan in (a, b):
        r = await schedule(sched_client, plan.id, dry_run=False, horizon_days=2)
        assert r.status_code == 200, r.text
        prefs = r.json()["preferences"]
        assert any("5 h a day" in line for line in prefs["applied"])
        assert prefs["memories"][0]["fact_id"] == fact_id  # which memory it came from
        assert prefs["memories"][0]["applied"] == ["at most 5 h a day (" + repr(text) + ")"]
    per_day: dict[object, float] = defaultdict(float)
    for e in await almanac_entries(db_session):
        per_day[e.start_at.astimezone(TZ).date()] += (e.end_at - e.start_at).total_seconds() / 3600
    assert per_day and max(per_day.values()) <= 5  # the stated maximum, for both plans at once


async def urgent_over_slow(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[Plan, Plan, dict[str, Any]]:
    """A slow plan written over three days, then a preview of an urgent plan that must move
    some of its blocks: (slow, urgent, the preview)."""
    monday = next_monday()
    slow = await make_plan(session, chain(4, 2.0, priority=1), title="Slow")
    r = await schedule(client, slow.id, dry_run=False, horizon_days=3)
    assert r.status_code == 200, r.text
    urgent_tasks = [
        {"key": "fix", "estimate_hours": 3.0, "priority": 4, "deadline": at(monday, 13)}
    ]
    urgent = await make_plan(session, urgent_tasks, title="Urgent")
    r = await schedule(client, urgent.id, horizon_days=3)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return slow, urgent, body


async def test_more_urgent_plan_displaces_and_moves_are_explained(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    slow, urgent, body = await urgent_over_slow(sched_client, db_session)
    fix = [b for b in body["blocks"] if b["task_key"] == "fix"]
    assert fix and max(parse(b["end"]) for b in fix) <= at(monday, 13)
    # The slow plan's blocks that had to move are listed with their plan and a reason.
    moved = [m for m in body["moves"] if m["plan_id"] == slow.id]
    assert moved and all(m["why"] for m in moved)
    before = await run_count(db_session, slow.id)
    r = await schedule(
        sched_client, urgent.id, dry_run=False, run_id=body["run_id"], horizon_days=3
    )
    assert r.status_code == 200, r.text
    assert await run_count(db_session, slow.id) == before + 1  # its new schedule is recorded
    entries = await almanac_entries(db_session)
    spans = sorted((e.start_at, e.end_at) for e in entries)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # no overlaps


async def test_applying_a_preview_writes_exactly_it_or_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    plan_id = (await make_plan(db_session, chain(3, 1.5))).id  # a 409 expires the row
    preview = (await schedule(sched_client, plan_id)).json()
    r = await schedule(sched_client, plan_id, dry_run=False, run_id=preview["run_id"])
    assert r.status_code == 200, r.text
    written = r.json()
    key = [(b["almanac_id"], b["start"], b["end"]) for b in preview["blocks"]]
    assert [(b["almanac_id"], b["start"], b["end"]) for b in written["blocks"]] == key
    stored = {(e.almanac_id, e.start_at, e.end_at) for e in await almanac_entries(db_session)}
    assert stored == {(a, parse(s), parse(e)) for a, s, e in key}
    # A retry of the same apply answers the same write.
    again = await schedule(sched_client, plan_id, dry_run=False, run_id=preview["run_id"])
    assert again.status_code == 200 and again.json()["run_id"] == written["run_id"]
    # A preview the calendar has since overtaken is refused with what changed.
    second = (await schedule(sched_client, plan_id)).json()
    await add_meeting(db_session, at(monday + timedelta(1), 9), at(monday + timedelta(1), 10), "X")
    r = await schedule(sched_client, plan_id, dry_run=False, run_id=second["run_id"])
    assert r.status_code == 409
    assert any("calendar event added" in e["message"] for e in r.json()["errors"])
    r = await schedule(sched_client, plan_id, dry_run=True, run_id=second["run_id"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "run_id"


async def test_shorter_window_leaves_no_orphans(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    plan = await make_plan(db_session, chain(6, 3.0))
    r = await schedule(sched_client, plan.id, dry_run=False, horizon_days=5)
    assert r.status_code == 200, r.text
    r = await schedule(sched_client, plan.id, dry_run=False, horizon_days=1)
    assert r.status_code == 200, r.text
    body = r.json()
    entries = await almanac_entries(db_session)
    assert {e.almanac_id for e in entries} == {b["almanac_id"] for b in body["blocks"]}
    estimates = {f"t{i}": 3.0 for i in range(6)}
    placed: dict[str, float] = defaultdict(float)
    for b in body["blocks"]:
        placed[b["task_key"]] += (parse(b["end"]) - parse(b["start"])).total_seconds() / 3600
    assert all(placed[k] <= estimates[k] for k in placed)
    unplaced = {u["task_key"] for u in body["unplaced"]}
    assert unplaced and not unplaced & {k for k, h in placed.items() if h >= estimates[k]}


async def test_manual_move_conflicts_are_409_unless_forced(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    monday = next_monday()
    await add_meeting(db_session, at(monday, 14), at(monday, 15), "Client call")
    plan = await make_plan(db_session, chain(2, 1.0))
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    first_blocks = r.json()["blocks"]
    first = next(b for b in first_blocks if b["task_key"] == "t1")
    aid = first["almanac_id"]
    onto_meeting = {"start": at(monday, 14).isoformat(), "end": at(monday, 15).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{aid}", json=onto_meeting)
    assert r.status_code == 409
    messages = [e["message"] for e in r.json()["errors"]]
    assert any("Client call" in m for m in messages)
    late = {"start": at(monday, 16).isoformat(), "end": at(monday, 17).isoformat()}
    zero = next(b["almanac_id"] for b in first_blocks if b["task_key"] == "t0")
    r = await sched_client.put(f"{URL}/calendar/{zero}", json=late)
    assert r.status_code == 409
    assert any("depends on it" in e["message"] for e in r.json()["errors"])
    sunday = monday - timedelta(days=1)
    night = {"start": at(sunday, 3).isoformat(), "end": at(sunday, 4).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{aid}", json=night)
    assert r.status_code == 409
    assert any("working day" in e["message"] for e in r.json()["errors"])
    before = len(await almanac_entries(db_session))
    r = await sched_client.put(f"{URL}/calendar/{aid}", json={**onto_meeting, "force": True})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] and r.json()["block"]["fixed"] is True
    assert len(await almanac_entries(db_session)) == before
    view = (await sched_client.get(f"{URL}/calendar", params={"start_date": str(monday)})).json()
    marked = [e for e in view["events"] if e["conflicts"]]
    assert {e["title"] for e in marked} >= {"Client call"}
    runs = (
        await db_session.scalars(
            select(SchedulerRun).where(SchedulerRun.plan_id == plan.id).order_by(SchedulerRun.id)
        )
    ).all()
    assert runs[-1].status == "pinned"


async def test_a_move_over_the_daily_maximum_or_onto_a_day_off_is_409(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    # The limits the solve obeyed (from remembered preferences) hold for a hand move too.
    await memory.add("preference", "No more than 2 hours of work per day", "no work on fridays")
    monday = next_monday()
    plan = await make_plan(db_session, chain(3, 1.0))
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    blocks = r.json()["blocks"]
    last = next(b for b in blocks if b["task_key"] == "t2")
    assert parse(last["start"]).date() != monday  # two hours fill Monday
    ends = [parse(b["end"]) for b in blocks if parse(b["start"]).date() == monday]
    starts = [parse(b["start"]) for b in blocks]
    hour = next(h for h in range(16, 8, -1) if at(monday, h) not in starts)
    assert at(monday, hour) >= max(ends)  # after t1: only the daily maximum is broken
    to_monday = {"start": at(monday, hour).isoformat(), "end": at(monday, hour + 1).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{last['almanac_id']}", json=to_monday)
    assert r.status_code == 409, r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes {monday:%a %d %b} 3 h of work, above the daily maximum of 2 h"
    ]
    friday = monday + timedelta(days=4)
    to_friday = {"start": at(friday, 10).isoformat(), "end": at(friday, 11).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{last['almanac_id']}", json=to_friday)
    assert r.status_code == 409, r.text
    assert any("Friday is not a working day" in e["message"] for e in r.json()["errors"])


async def test_a_preview_lists_other_plans_new_blocks_it_writes(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # A's one-day schedule leaves work out; B's two-day one places it in free time, and
    # that write must be in B's preview, not only in the calendar afterwards.
    a = await make_plan(db_session, chain(4, 3.0), title="A")
    r = await schedule(sched_client, a.id, dry_run=False, horizon_days=1)
    assert r.status_code == 200, r.text
    assert {u["task_key"] for u in r.json()["unplaced"]} >= {"t3"}
    before = {(e.almanac_id, e.start_at, e.end_at) for e in await almanac_entries(db_session)}
    b = await make_plan(db_session, chain(1, 1.0), title="B")
    preview = (await schedule(sched_client, b.id, horizon_days=2)).json()
    assert preview["placed"] and {p["plan_id"] for p in preview["placed"]} == {a.id}
    r = await schedule(sched_client, b.id, dry_run=False, run_id=preview["run_id"], horizon_days=2)
    assert r.status_code == 200, r.text
    stored = {(e.almanac_id, e.start_at, e.end_at) for e in await almanac_entries(db_session)}
    listed = {(p["almanac_id"], parse(p["start"]), parse(p["end"])) for p in preview["placed"]}
    shown = {(x["almanac_id"], parse(x["start"]), parse(x["end"])) for x in preview["blocks"]}
    assert not preview["moves"]
    assert stored == before | shown | listed  # exactly what the preview showed


async def test_a_pinned_block_outside_another_plans_window_stays_one_block(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # Kept outside B's two-day window, A's hand-pinned block was pinned a second time: the
    # copy took the place of one of the task's blocks inside the window ("moved: pinned by
    # you"), so the task lost those hours (or got two events at one time).
    monday = next_monday()
    a = await make_plan(db_session, chain(2, 5.0), title="A")  # split: room for two pins
    r = await schedule(sched_client, a.id, dry_run=False)
    assert r.status_code == 200, r.text
    block = next(b for b in r.json()["blocks"] if b["task_key"] == "t1")
    thursday = monday + timedelta(days=3)
    end = at(thursday, 10) + (parse(block["end"]) - parse(block["start"]))
    move = {"start": at(thursday, 10).isoformat(), "end": end.isoformat()}
    r = await sched_client.put(
        f"{URL}/calendar/{block['almanac_id']}", json={**move, "force": True}
    )
    assert r.status_code == 200, r.text
    b = await make_plan(db_session, chain(1, 1.0), title="B")
    r = await schedule(sched_client, b.id, dry_run=False, horizon_days=2)  # up to Tuesday
    assert r.status_code == 200, r.text
    mine = [e for e in await almanac_entries(db_session) if e.almanac_id.startswith(f"plan{a.id}-")]
    at_pin = [e for e in mine if e.start_at == at(thursday, 10)]
    assert not r.json()["moves"], r.json()["moves"]  # nothing of A's had to move for B
    assert len(at_pin) == 1, [(e.almanac_id, e.start_at) for e in mine]
    assert sum((e.end_at - e.start_at).total_seconds() for e in mine) == 10 * 3600


async def test_blocks_kept_outside_the_window_are_not_listed_as_placed(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    a = await make_plan(db_session, chain(4, 3.0), title="A")  # Monday to Wednesday
    r = await schedule(sched_client, a.id, dry_run=False)
    assert r.status_code == 200, r.text
    b = await make_plan(db_session, chain(1, 1.0), title="B")
    r = await schedule(sched_client, b.id, horizon_days=1)  # Monday: A's later blocks stay
    assert r.status_code == 200, r.text
    assert not r.json()["placed"], r.json()["placed"]


def loose(n: int, hours: float) -> list[dict[str, object]]:
    return [{"key": f"t{i}", "estimate_hours": hours, "priority": 2} for i in range(n)]


async def test_the_daily_maximum_of_a_move_counts_the_whole_target_day(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    # A move to a day past the plan's own window read the calendar only up to the moved
    # block's end: another plan's blocks later that day were not counted (a 200 for a 4 h day).
    await memory.add("preference", "No more than 2 hours of work per day")
    monday = next_monday()
    tuesday = monday + timedelta(days=1)
    a = await make_plan(db_session, loose(2, 1.0), title="A")
    r = await schedule(sched_client, a.id, dry_run=False, horizon_days=1)  # Monday only
    assert r.status_code == 200, r.text
    a_block = r.json()["blocks"][0]
    b = await make_plan(db_session, loose(2, 1.0), title="B")
    r = await schedule(sched_client, b.id, dry_run=False, horizon_days=2)
    assert r.status_code == 200, r.text
    b_blocks = r.json()["blocks"]
    assert all(parse(x["start"]).date() == tuesday for x in b_blocks), b_blocks
    for n, x in enumerate(sorted(b_blocks, key=lambda x: x["start"])):  # late on Tuesday
        late = {"start": at(tuesday, 15 + n).isoformat(), "end": at(tuesday, 16 + n).isoformat()}
        r = await sched_client.put(f"{URL}/calendar/{x['almanac_id']}", json=late)
        assert r.status_code == 200, r.text
    early = {"start": at(tuesday, 9).isoformat(), "end": at(tuesday, 10).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{a_block['almanac_id']}", json=early)
    assert r.status_code == 409, r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes {tuesday:%a %d %b} 3 h of work, above the daily maximum of 2 h"
    ]


async def test_a_move_within_a_day_already_over_the_maximum_is_not_refused_for_it(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    # The day held 3 h before the preference said 2: shifting one of its blocks later the same
    # day does not make the day longer, so the daily maximum is no reason for a 409.
    monday = next_monday()
    a = await make_plan(db_session, loose(3, 1.0), title="A")
    r = await schedule(sched_client, a.id, dry_run=False, horizon_days=1)
    assert r.status_code == 200, r.text
    blocks = sorted(r.json()["blocks"], key=lambda x: x["start"])
    assert len(blocks) == 3
    await memory.add("preference", "No more than 2 hours of work per day")
    later = {"start": at(monday, 15).isoformat(), "end": at(monday, 16).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{blocks[-1]['almanac_id']}", json=later)
    assert r.status_code == 200, r.text
    assert not r.json()["warnings"], r.json()["warnings"]
    # A block from another day still may not make it longer.
    b = await make_plan(db_session, loose(1, 1.0), title="B")
    r = await schedule(sched_client, b.id, dry_run=False, horizon_days=2)
    assert r.status_code == 200, r.text
    [other] = r.json()["blocks"]
    assert parse(other["start"]).date() != monday
    held = [
        e for e in await almanac_entries(db_session) if e.start_at.astimezone(TZ).date() == monday
    ]
    hours = sum((e.end_at - e.start_at).total_seconds() for e in held) / 3600
    assert hours >= 2  # B's solve may have moved some of A's Monday away, not all
    onto = {"start": at(monday, 16).isoformat(), "end": at(monday, 17).isoformat()}
    assert all(e.end_at <= at(monday, 16) for e in held)
    r = await sched_client.put(f"{URL}/calendar/{other['almanac_id']}", json=onto)
    assert r.status_code == 409, r.text
    assert [e["message"] for e in r.json()["errors"]] == [
        f"makes {monday:%a %d %b} {hours + 1:g} h of work, above the daily maximum of 2 h"
    ]


async def test_a_move_onto_another_clients_block_does_not_name_its_task(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A hand move onto another plan's block named that block by its task's title, another
    client's included, in the 409 and (forced) in the moved block's reason and the run's
    warnings; the solve's answers and stored runs name another plan's tasks by key."""
    other = await make_plan(
        db_session, [{"key": "t0", "title": "Merger step 0", "estimate_hours": 1.0}], title="Acme"
    )
    other.client_id = 2
    mine = await make_plan(db_session, chain(1, 1.0), title="Mine")
    mine.client_id = 1
    await db_session.flush()
    other_id, mine_id = other.id, mine.id
    r = await schedule(sched_client, other_id, dry_run=False)
    assert r.status_code == 200, r.text
    theirs = r.json()["blocks"][0]
    r = await schedule(sched_client, mine_id, dry_run=False)
    assert r.status_code == 200, r.text
    aid = r.json()["blocks"][0]["almanac_id"]
    onto = {"start": theirs["start"], "end": theirs["end"]}
    r = await sched_client.put(f"{URL}/calendar/{aid}", json=onto)
    assert r.status_code == 409, r.text
    assert f"'{other_id}/t0'" in r.text, r.text
    assert "merger" not in r.text.lower(), r.text
    r = await sched_client.put(f"{URL}/calendar/{aid}", json={**onto, "force": True})
    assert r.status_code == 200, r.text
    assert "merger" not in r.text.lower(), r.text
    run = (
        await db_session.scalars(
            select(SchedulerRun).where(SchedulerRun.plan_id == mine_id).order_by(SchedulerRun.id)
        )
    ).all()[-1]
    assert run.status == "pinned"
    stored = repr([run.schedule_blocks, run.metadata_])
    assert "merger" not in stored.lower(), stored


async def test_the_calendar_view_marks_a_forced_move_outside_hours_or_past_its_deadline(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    # The view marked only overlaps: a block forced into the evening or past its task's
    # deadline looked like any other.
    monday = next_monday()
    tasks = chain(2, 1.0)
    tasks[1]["deadline"] = at(monday + timedelta(days=1), 12)
    plan = await make_plan(db_session, tasks)
    r = await schedule(sched_client, plan.id, dry_run=False)
    assert r.status_code == 200, r.text
    aid = next(b["almanac_id"] for b in r.json()["blocks"] if b["task_key"] == "t1")
    wednesday = monday + timedelta(days=2)
    evening = {"start": at(wednesday, 19).isoformat(), "end": at(wednesday, 20).isoformat()}
    r = await sched_client.put(f"{URL}/calendar/{aid}", json={**evening, "force": True})
    assert r.status_code == 200, r.text
    view = (await sched_client.get(f"{URL}/calendar", params={"start_date": str(monday)})).json()
    marks = {e["id"]: e["conflicts"] for e in view["events"] if e["almanac"]}
    assert len(marks) == 2
    assert any("outside working hours" in m for m in marks[aid]), marks[aid]
    assert any("passes the task's deadline" in m for m in marks[aid]), marks[aid]
    assert [conflicts for key, conflicts in marks.items() if key != aid] == [[]]
