"""A lower estimate shrinks a task's blocks and cancelling a plan frees its blocks in a real
CalDAV server too (Radicale and Xandikos): events updated and deleted there, kept events keep
their ids, another plan's and the user's own events stay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalendarSettings
from almanac.models import Plan, Task
from almanac.scheduler.pending import TASK, write_blocks
from tests.calendars.conftest import (
    BREAKFAST,
    Clients,
    States,
    add_breakfast,
    next_week,
    queued_args,
)
from tests.scheduler.conftest import make_plan, next_monday


async def spans(calendar: CalDAVCalendar, prefix: str) -> dict[str, tuple[datetime, datetime]]:
    return {
        e.almanac_id: (e.start, e.end)
        for e in await calendar.events(*next_week())
        if e.almanac_id and e.almanac_id.startswith(prefix)
    }


async def scheduled(
    api: httpx.AsyncClient, session: AsyncSession, key: str, hours: float
) -> tuple[Plan, Task]:
    """A one-task plan `key` of `hours`, scheduled from next Monday and written."""
    plan = await make_plan(session, [{"key": key, "estimate_hours": hours}], title=key)
    task = {"id": key, "title": key.title(), "estimate_hours": 1.0}
    plan.sop = {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": [task]}]}
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    r = await api.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200 and r.json()["calendar"]["created"], r.text
    row = await session.scalar(select(Task).where(Task.plan_id == plan.id))
    assert row is not None
    return plan, row


async def test_trimming_and_cancelling_reach_caldav(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    raw_calendar: Any,
    provider: CalDAVCalendar,
) -> None:
    state = state_for(caldav_settings)
    add_breakfast(raw_calendar, 6)
    async with calendar_client_for(state) as api:
        plan, task = await scheduled(api, db_session, "build", 4.0)
        other, _ = await scheduled(api, db_session, "other", 2.0)
        mine, theirs = f"plan{plan.id}-", f"plan{other.id}-"
        before, others = await spans(provider, mine), await spans(provider, theirs)
        assert sum((e - s).total_seconds() for s, e in before.values()) == 4 * 3600

        r = await api.patch(f"/api/v1/planner/tasks/{task.id}", json={"estimate_hours": 1.5})
        assert r.status_code == 200, r.text
        after = await spans(provider, mine)
        assert sum((e - s).total_seconds() for s, e in after.values()) == 1.5 * 3600
        first = min(before, key=lambda k: before[k][0])
        assert first in after and after[first][0] == before[first][0]
        assert set(after) <= set(before)
        assert await spans(provider, theirs) == others

        r = await api.post(f"/api/v1/planner/plans/{plan.id}/status", json={"status": "cancelled"})
        assert r.status_code == 200, r.text
        assert await spans(provider, mine) == {}
        assert await spans(provider, theirs) == others
    titles = [e.title for e in await provider.events(*next_week())]
    assert BREAKFAST in titles


async def test_a_caldav_server_that_is_down_gets_the_change_later(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    caldav_gone: CalendarSettings,
    provider: CalDAVCalendar,
) -> None:
    up = state_for(caldav_settings)
    down = state_for(caldav_gone)
    async with calendar_client_for(up) as api:
        plan, task = await scheduled(api, db_session, "build", 4.0)
    mine = f"plan{plan.id}-"
    before = await spans(provider, mine)

    async with calendar_client_for(down) as api:
        r = await api.patch(f"/api/v1/planner/tasks/{task.id}", json={"estimate_hours": 1.5})
    # The edit stands; the calendar write waits for the server.
    assert r.status_code == 200, r.text
    assert r.json()["task"]["estimate_hours"] == 1.5 and r.json()["blocks"]
    assert r.json()["calendar"]["pending"] is True, r.text
    assert await spans(provider, mine) == before

    args = await queued_args(db_session, TASK)
    assert await write_blocks(db_session, up.settings, cache, args) is not None
    after = await spans(provider, mine)
    assert sum((e - s).total_seconds() for s, e in after.values()) == 1.5 * 3600


async def test_two_changes_queued_while_down_both_reach_caldav(
    state_for: States,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    caldav_gone: CalendarSettings,
    provider: CalDAVCalendar,
) -> None:
    """Two tasks of one plan done while the server was down: each queued a write of its own
    span. The first job found a newer run of the plan and wrote nothing, the second wrote
    only its span: the first task's block stayed in the calendar for good (an outside
    probe against Radicale)."""
    up, down = state_for(caldav_settings), state_for(caldav_gone)
    tasks = [{"key": k, "estimate_hours": 2.0} for k in ("draft", "review")]
    plan = await make_plan(db_session, tasks, title="two")
    steps = [{"id": k, "title": k.title(), "estimate_hours": 2.0} for k in ("draft", "review")]
    plan.sop = {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": steps}]}
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    async with calendar_client_for(up) as api:
        r = await api.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200 and len(r.json()["calendar"]["created"]) == 2, r.text
    mine = f"plan{plan.id}-"
    assert len(await spans(provider, mine)) == 2
    rows = (await db_session.scalars(select(Task).where(Task.plan_id == plan.id))).all()
    async with calendar_client_for(down) as api:
        for row in rows:
            r = await api.patch(f"/api/v1/planner/tasks/{row.id}", json={"status": "done"})
            assert r.status_code == 200 and r.json()["calendar"]["pending"] is True, r.text
    jobs = (
        await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
            {"t": TASK},
        )
    ).all()
    assert len(jobs) == 2
    for (args,) in jobs:  # in the order the queue runs them
        await write_blocks(db_session, up.settings, cache, dict(args))
    assert await spans(provider, mine) == {}
