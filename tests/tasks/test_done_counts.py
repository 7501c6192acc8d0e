"""A task marked done counts as done in the reflection of the day it was finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cli.capabilities import reflection_lines
from almanac.db.uow import UnitOfWork
from almanac.mcp.tools.review import reflection_text
from almanac.models import Task
from almanac.observer.deps import observer_service
from almanac.observer.narrative import reflection_summary
from almanac.state import AppState
from tests.scheduler.conftest import TZ, make_plan
from tests.tasks.test_block_fitting import scheduled, task_id
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


@pytest.mark.parametrize("hours", [None, 2.0])  # `almanac done ID [--hours 2]`
async def test_a_task_finished_ahead_of_its_block_counts_as_planned_there(
    sched_client: httpx.AsyncClient,
    db_session: AsyncSession,
    sched_state: AppState,
    hours: float | None,
):
    """Marking a task done frees its future blocks and clears its `scheduled_start`, which
    is where reflections count it planned: finished in the morning of the day its block was
    in, that day's reflection said 0 planned and 0 h estimated beside 1 done. Finished in an
    earlier period, it is no planned work of the later one."""
    plan = await scheduled(db_session, sched_client, [{"key": "build", "estimate_hours": 2.0}], "A")
    build = await task_id(db_session, plan.id, "build")
    r = await sched_client.get(f"{URL}/{build}")
    planned = datetime.fromisoformat(r.json()["scheduled_start"])
    if hours is not None:  # its whole estimate recorded: its blocks go then
        r = await sched_client.post(f"{URL}/{build}/time", json={"hours": hours})
        assert r.status_code == 200 and r.json()["blocks"], r.text
    r = await sched_client.patch(f"{URL}/{build}", json={"status": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["scheduled_start"] is None, r.text  # no block of it is left
    day = planned.astimezone(TZ).date()

    async def numbers() -> dict[str, object]:
        # That evening's reflection (the API refuses a day ahead: it is the same service).
        evening = datetime.combine(day, datetime.min.time(), tzinfo=TZ) + timedelta(hours=20)
        observer = observer_service(UnitOfWork(db_session), sched_state, clock=lambda: evening)
        out: dict[str, object] = (await observer.reflect("daily", day)).report["numbers"]
        return out

    n = await numbers()  # finished today, days before its block
    assert n["tasks_planned"] == 0 and n["tasks_done"] == 0, n
    # Finished on its block's day, an hour before the block (early, as users are).
    await db_session.execute(
        update(Task).where(Task.id == build).values(finished_at=planned - timedelta(hours=1))
    )
    n = await numbers()
    assert n["tasks_done"] == 1, n
    assert n["tasks_planned"] == 1 and n["hours_estimated"] == 2.0, n
    assert n["tasks_not_done"] == 0, n


async def test_work_recorded_after_the_fact_is_done_in_the_week_it_was_finished(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A harness (or a consultant catching up) records weeks-old work with its hours ending
    then and marks the task done: marked done today, the past week's reflection said 0 done
    beside its hours and this week's all done with no hours. `finished_at` says when."""
    plan = await make_plan(db_session, [{"key": "audit"}, {"key": "report"}, {"key": "late"}])
    by_key = await ids(db_session, plan.id)
    past = datetime.now(TZ).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(weeks=3)
    for key in ("audit", "report"):
        r = await sched_client.post(
            f"{URL}/{by_key[key]}/time", json={"hours": 2.0, "ended_at": past.isoformat()}
        )
        assert r.status_code == 200, r.text
    done_then = (past + timedelta(hours=3)).isoformat()
    r = await sched_client.patch(
        f"{URL}/{by_key['audit']}", json={"status": "done", "finished_at": done_then}
    )
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["task"]["finished_at"]) == past + timedelta(hours=3)
    # Refused, nothing written: before the work recorded on it, on a task not done, null.
    for body in (
        {"status": "done", "finished_at": (past - timedelta(hours=1)).isoformat()},
        {"finished_at": done_then},
        {"status": "in_progress", "finished_at": done_then},
        {"status": "done", "finished_at": None},
    ):
        r = await sched_client.patch(f"{URL}/{by_key['report']}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["finished_at"], r.text
        task = (await sched_client.get(f"{URL}/{by_key['report']}")).json()
        assert (task["status"], task["finished_at"]) == ("in_progress", None), body
    # On a task already done, it moves its finish time.
    r = await sched_client.patch(f"{URL}/{by_key['late']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await sched_client.patch(f"{URL}/{by_key['late']}", json={"finished_at": done_then})
    assert r.status_code == 200 and r.json()["task"]["finished_at"] is not None, r.text

    async def numbers(day: object) -> dict[str, object]:
        r = await sched_client.post(
            "/api/v1/observer/reflect", params={"mode": "weekly", "date": str(day)}
        )
        assert r.status_code == 200, r.text
        out: dict[str, object] = r.json()["report"]["numbers"]
        return out

    then = await numbers(past.date())
    assert then["tasks_done"] == 2 and then["hours_actual"] == 4.0, then
    assert (await numbers(datetime.now(TZ).date()))["tasks_done"] == 0


async def test_a_finish_in_a_past_period_says_its_reflection_is_out_of_date(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A weekly reflection made before the task was recorded as finished in that week still
    counts it not done there, and nothing said so: the answer names the day to reflect on
    again (made again, it counts the task done)."""
    plan = await make_plan(db_session, [{"key": "audit"}, {"key": "today"}])
    by_key = await ids(db_session, plan.id)
    past = datetime.now(TZ).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(weeks=2)

    async def done_that_week() -> object:
        r = await sched_client.post(
            "/api/v1/observer/reflect", params={"mode": "weekly", "date": str(past.date())}
        )
        assert r.status_code == 200, r.text
        return r.json()["report"]["numbers"]["tasks_done"]

    assert await done_that_week() == 0
    r = await sched_client.patch(
        f"{URL}/{by_key['audit']}", json={"status": "done", "finished_at": past.isoformat()}
    )
    assert r.status_code == 200, r.text
    note = r.json()["note"]
    assert note is not None and f"reflect?date={past.date().isoformat()}" in note, note
    assert await done_that_week() == 1
    # Finished now, or today: nothing to reflect on again.
    r = await sched_client.patch(
        f"{URL}/{by_key['today']}",
        json={"status": "done", "finished_at": datetime.now(TZ).isoformat()},
    )
    assert r.status_code == 200 and r.json()["note"] is None, r.text


async def test_the_tasks_done_say_their_estimate_against_the_hours_they_took(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """A task finished today ahead of its block is not planned today, so the day's numbers
    said "0 h estimated, 2 h worked" for a 1 h task that took 2 h: estimate against reality
    was not there to read. The tasks done with hours recorded now carry both, with hours
    recorded on earlier days counted too; a task done with no hours is no measure."""
    later = datetime.now(TZ) + timedelta(days=9)
    plan = await make_plan(
        db_session,
        [
            {"key": "slow", "scheduled_start": later},  # 1 h, took 0.5 h earlier + 1.5 h
            {"key": "big", "estimate_hours": 3.0},  # took 2.5 h
            {"key": "unmeasured", "estimate_hours": 5.0},  # done, no hours recorded
        ],
    )
    by_key = await ids(db_session, plan.id)
    now = datetime.now(UTC)
    records = [
        ("slow", 0.5, now - timedelta(days=3)),
        ("slow", 1.5, now - timedelta(minutes=5)),
        ("big", 2.5, now - timedelta(minutes=1)),
    ]
    for key, hours, ended in records:
        r = await sched_client.post(
            f"{URL}/{by_key[key]}/time", json={"hours": hours, "ended_at": ended.isoformat()}
        )
        assert r.status_code == 200, r.text
    for key in ("slow", "big", "unmeasured"):
        r = await sched_client.patch(f"{URL}/{by_key[key]}", json={"status": "done"})
        assert r.status_code == 200, r.text
    today = datetime.now(TZ).date()
    r = await sched_client.post(
        "/api/v1/observer/reflect", params={"mode": "daily", "date": today.isoformat()}
    )
    assert r.status_code == 200, r.text
    n = r.json()["report"]["numbers"]
    assert n["tasks_done"] == 3 and n["tasks_planned"] == 0, n
    assert n["done_tasks_measured"] == 2, n
    assert (n["done_hours_estimated"], n["done_hours_worked"]) == (4.0, 4.5), n
    # What each reader shows: the CLI, the memory's summary, the MCP tool.
    out = r.json()
    assert "done with hours recorded: 2 task(s), estimated 4 h, took 4.5 h" in (
        reflection_lines(out)
    )
    summary = reflection_summary(out["report"], None)
    assert "2 task(s) done with hours recorded were estimated at 4 h and took 4.5 h" in summary
    assert "2 task(s) done with hours recorded: 4.5 h actual vs 4 h estimated" in (
        reflection_text(out)
    )
