"""A task's future blocks follow its estimate and the hours recorded, and closed tasks and plans
free theirs, at once (not at the next schedule): the latest blocks go first, a partial one is
shortened, past blocks and other plans' blocks stay. Checked in the built-in calendar and in
its .ics feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import event_uid
from almanac.models import CalendarEntry, Plan, SchedulerRun, Task
from tests.scheduler.conftest import TZ, almanac_entries, at, make_plan, next_monday

URL = "/api/v1/planner/tasks"
Spans = dict[str, tuple[datetime, datetime]]


async def scheduled(
    session: AsyncSession, api: httpx.AsyncClient, tasks: list[dict[str, Any]], title: str
) -> Plan:
    plan = await make_plan(session, tasks, title=title)
    plan.sop = sop(tasks)
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await api.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    assert not r.json()["unplaced"], r.text
    return plan


async def with_another_plan(
    session: AsyncSession, api: httpx.AsyncClient, tasks: list[dict[str, Any]]
) -> tuple[Plan, Plan]:
    """Plan A of `tasks` scheduled, then plan B (one 3-hour task, "other") after it."""
    plan = await scheduled(session, api, tasks, "A")
    other = await scheduled(session, api, [{"key": "other", "estimate_hours": 3.0}], "B")
    return plan, other


def sop(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """A valid stored plan for the task rows (the status answer shows the plan)."""
    rows = [{"id": t["key"], "title": t["key"].title(), "estimate_hours": 1.0} for t in tasks]
    return {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": rows}]}


async def task_id(session: AsyncSession, plan_id: int, key: str) -> int:
    row = await session.scalar(
        select(Task).where(Task.plan_id == plan_id, Task.plan_task_key == key)
    )
    assert row is not None
    return row.id


async def stored(session: AsyncSession) -> Spans:
    """Almanac's blocks in the built-in calendar, by Almanac id."""
    return {e.almanac_id or "": (e.start_at, e.end_at) for e in await almanac_entries(session)}


async def feed(api: httpx.AsyncClient) -> Spans:
    """Almanac's blocks as the .ics feed shows them, by Almanac id."""
    start = (datetime.now(TZ) - timedelta(days=3)).isoformat()
    r = await api.get("/api/v1/calendar/feed.ics", params={"start": start})
    assert r.status_code == 200, r.text
    out = {}
    for ev in icalendar.Calendar.from_ical(r.content).walk("VEVENT"):
        if "X-ALMANAC-ID" in ev:
            out[str(ev["X-ALMANAC-ID"])] = (ev.decoded("DTSTART"), ev.decoded("DTEND"))
    return out


def of(spans: Spans, prefix: str) -> Spans:
    return {k: v for k, v in spans.items() if k.startswith(prefix)}


def minutes(spans: Spans) -> float:
    return sum((e - s).total_seconds() / 60 for s, e in spans.values())


def check_trimmed(before: Spans, after: Spans, total: float) -> None:
    """`after` is `before` with the latest blocks cut to `total` minutes: same ids, the
    earliest whole, at most one shortened (same start, earlier end), the rest gone."""
    assert minutes(after) == total
    assert set(after) <= set(before)
    shortened = [k for k in after if after[k] != before[k]]
    assert len(shortened) <= 1
    for k in shortened:
        assert after[k][0] == before[k][0] and after[k][1] < before[k][1]
    gone = set(before) - set(after)
    assert gone or shortened
    if gone:
        assert max(after[k][0] for k in after) < min(before[k][0] for k in gone)
    if shortened:
        whole = [k for k in after if k not in shortened]
        assert all(after[k][0] < after[shortened[0]][0] for k in whole)
        assert all(before[k][0] > before[shortened[0]][0] for k in gone)


async def test_a_lower_estimate_trims_the_latest_future_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    build = [{"key": "build", "estimate_hours": 5.0}]
    plan, other = await with_another_plan(db_session, sched_client, build)
    mine, theirs = f"plan{plan.id}-build-", f"plan{other.id}-"
    before = await stored(db_session)
    assert minutes(of(before, mine)) == 300 and len(of(before, mine)) >= 3
    assert of(await feed(sched_client), mine) == of(before, mine)

    tid = await task_id(db_session, plan.id, "build")
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": 2.5})
    assert r.status_code == 200, r.text
    out = r.json()

    after = await stored(db_session)
    check_trimmed(of(before, mine), of(after, mine), 150)
    assert of(after, theirs) == of(before, theirs)
    assert of(await feed(sched_client), mine) == of(after, mine)
    # The answer names every block it changed, and nothing else.
    changed = {c["almanac_id"]: c for c in out["blocks"]}
    assert set(changed) == {k for k in of(before, mine) if of(after, mine).get(k) != before[k]}
    assert out["released_blocks"] == sum(c["change"] == "freed" for c in changed.values()) > 0
    for k, c in changed.items():
        assert c["change"] == ("shortened" if k in after else "freed")
        if k in after:
            assert datetime.fromisoformat(c["new_end"]) == after[k][1]

    # Raising it again adds nothing until the user schedules again, and says so.
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": 6})
    assert r.status_code == 200 and r.json()["blocks"] == [], r.text
    assert "replan" in r.json()["note"]
    assert await stored(db_session) == after


async def test_recording_time_trims_to_the_hours_left(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    build = [{"key": "build", "estimate_hours": 5.0}]
    plan, other = await with_another_plan(db_session, sched_client, build)
    mine, theirs = f"plan{plan.id}-build-", f"plan{other.id}-"
    before = await stored(db_session)
    tid = await task_id(db_session, plan.id, "build")

    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1.0, "idempotency_key": "a"})
    assert r.status_code == 200, r.text
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2.0})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["remaining_hours"] == 2.0

    after = await stored(db_session)
    check_trimmed(of(before, mine), of(after, mine), 120)
    assert of(after, theirs) == of(before, theirs)
    assert of(await feed(sched_client), mine) == of(after, mine)
    # A retried record counts once and changes nothing more.
    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 1.0, "idempotency_key": "a"})
    assert r.json()["duplicate"] is True and r.json()["blocks"] == []
    assert await stored(db_session) == after


async def test_cancelling_a_task_frees_its_future_blocks_and_says_which(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tasks = [{"key": "build", "estimate_hours": 3.0}, {"key": "test", "estimate_hours": 2.0}]
    plan = await scheduled(db_session, sched_client, tasks, "A")
    before = await stored(db_session)
    build = of(before, f"plan{plan.id}-build-")
    assert build

    tid = await task_id(db_session, plan.id, "build")
    r = await sched_client.patch(f"{URL}/{tid}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    assert {c["almanac_id"] for c in r.json()["blocks"]} == set(build)
    assert {c["change"] for c in r.json()["blocks"]} == {"freed"}
    after = await stored(db_session)
    assert after == {k: v for k, v in before.items() if k not in build}
    assert set(of(await feed(sched_client), f"plan{plan.id}-")) == set(after)


async def test_cancelling_a_plan_frees_its_future_blocks_only(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tasks = [{"key": "build", "estimate_hours": 3.0}, {"key": "test", "estimate_hours": 2.0}]
    plan, other = await with_another_plan(db_session, sched_client, tasks)
    mine, theirs = f"plan{plan.id}-", f"plan{other.id}-"
    before = await stored(db_session)
    assert of(before, mine) and of(before, theirs)

    r = await sched_client.post(
        f"/api/v1/planner/plans/{plan.id}/status", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    after = await stored(db_session)
    assert of(after, mine) == {}
    assert of(after, theirs) == of(before, theirs)
    assert of(await feed(sched_client), mine) == {}
    assert r.json()["status"] == "cancelled" and r.json()["id"] == plan.id
    assert {c["almanac_id"] for c in r.json()["freed_blocks"]} == set(of(before, mine))

    # The other plan completed through its lifecycle frees its blocks too.
    path = f"/api/v1/planner/plans/{other.id}/status"
    r = await sched_client.post(path, json={"status": "active"})
    assert r.status_code == 200 and r.json()["freed_blocks"] == [], r.text
    assert of(await stored(db_session), theirs) == of(before, theirs)
    r = await sched_client.post(path, json={"status": "completed"})
    assert r.status_code == 200 and len(r.json()["freed_blocks"]) == len(of(before, theirs))
    assert await stored(db_session) == {}


async def test_past_blocks_are_never_touched(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    tasks = [{"key": "design", "estimate_hours": 3.0}]
    plan = await make_plan(db_session, tasks)
    plan.status, plan.sop = "scheduled", sop(tasks)
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    monday = next_monday()
    spans = {
        0: (at(yesterday, 9), at(yesterday, 10)),  # already worked, or not: history either way
        1: (at(monday, 9), at(monday, 11)),
        2: (at(monday, 13), at(monday, 14)),
    }
    blocks = []
    for chunk, (start, end) in spans.items():
        aid = f"plan{plan.id}-design-{chunk}"
        blocks.append(
            {
                "task_key": "design",
                "chunk": chunk,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "reason": "",
                "fixed": False,
            }
        )
        db_session.add(
            CalendarEntry(
                uid=event_uid(aid), title="Design", start_at=start, end_at=end, almanac_id=aid
            )
        )
    window = {
        "window_start": at(yesterday, 0).isoformat(),
        "window_end": at(monday, 23).isoformat(),
    }
    db_session.add(
        SchedulerRun(plan_id=plan.id, status="scheduled", schedule_blocks=blocks, metadata_=window)
    )
    await db_session.flush()
    past = f"plan{plan.id}-design-0"

    tid = await task_id(db_session, plan.id, "design")
    r = await sched_client.patch(f"{URL}/{tid}", json={"estimate_hours": 1.0})
    assert r.status_code == 200, r.text
    # The future hour allowed is the first future block, shortened; yesterday's is history.
    assert await stored(db_session) == {
        past: spans[0],
        f"plan{plan.id}-design-1": (at(monday, 9), at(monday, 10)),
    }
    assert {c["change"] for c in r.json()["blocks"]} == {"shortened", "freed"}

    r = await sched_client.post(
        f"/api/v1/planner/plans/{plan.id}/status", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    assert [c["almanac_id"] for c in r.json()["freed_blocks"]] == [f"plan{plan.id}-design-1"]
    assert await stored(db_session) == {past: spans[0]}
    assert of(await feed(sched_client), f"plan{plan.id}-") == {past: spans[0]}


async def test_recording_the_last_hours_frees_every_future_block(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Blocks never add up to more than the estimate less the hours recorded: with none left,
    # none stay (not a quarter hour "to finish it"), though the task is not marked done.
    build = [{"key": "build", "estimate_hours": 2.0}]
    plan, other = await with_another_plan(db_session, sched_client, build)
    mine, theirs = f"plan{plan.id}-build-", f"plan{other.id}-"
    before = await stored(db_session)
    assert minutes(of(before, mine)) == 120
    tid = await task_id(db_session, plan.id, "build")

    r = await sched_client.post(f"{URL}/{tid}/time", json={"hours": 2.0})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["status"] != "done" and r.json()["task"]["remaining_hours"] == 0
    assert {c["almanac_id"]: c["change"] for c in r.json()["blocks"]} == dict.fromkeys(
        of(before, mine), "freed"
    )
    after = await stored(db_session)
    assert of(after, mine) == {} and of(await feed(sched_client), mine) == {}
    assert of(after, theirs) == of(before, theirs)


async def test_freed_blocks_leave_the_tasks_scheduled_start_true_to_its_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """A task whose future blocks were all freed kept its old `scheduled_start` (the task
    list and today's view said it starts at a block that is no longer there)."""
    tasks = [{"key": "build", "estimate_hours": 2.0}, {"key": "test", "estimate_hours": 1.0}]
    plan = await scheduled(db_session, sched_client, tasks, "A")
    build = await task_id(db_session, plan.id, "build")
    test = await task_id(db_session, plan.id, "test")
    r = await sched_client.get(f"{URL}/{build}")
    assert r.json()["scheduled_start"] is not None, r.text
    left = await sched_client.get(f"{URL}/{test}")
    assert left.json()["scheduled_start"] is not None, left.text

    r = await sched_client.post(f"{URL}/{build}/time", json={"hours": 2.0})  # fully recorded
    assert r.status_code == 200, r.text
    assert r.json()["blocks"] and r.json()["task"]["scheduled_start"] is None, r.text
    r = await sched_client.get(f"{URL}/{build}")
    assert r.json()["scheduled_start"] is None, r.text
    # The other task's blocks stay, and so does its start.
    r = await sched_client.get(f"{URL}/{test}")
    assert r.json()["scheduled_start"] == left.json()["scheduled_start"], r.text

    # A closed plan frees every future block: no task of it starts anywhere any more.
    r = await sched_client.post(
        f"/api/v1/planner/plans/{plan.id}/status", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    r = await sched_client.get(f"{URL}/{test}")
    assert r.json()["scheduled_start"] is None, r.text
