"""A lower estimate shrinks a task's blocks and cancelling a plan frees its blocks in a real
CalDAV server too (Radicale and Xandikos): events updated and deleted there, kept events keep
their ids, another plan's and the user's own events stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.cache import Cache
from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalendarSettings
from almanac.embedder import Embedder
from almanac.models import Task
from almanac.scheduler.pending import TASK, write_blocks
from tests.calendars.test_forget_remote import (  # caldav_settings: the calendar under test
    Clients,
    caldav_settings,  # noqa: F401
    make_state,
)
from tests.live_server import free_port
from tests.scheduler.conftest import make_plan, next_monday


def window() -> tuple[datetime, datetime]:
    start = datetime.combine(next_monday(), datetime.min.time(), tzinfo=UTC)
    return start - timedelta(days=2), start + timedelta(days=9)


async def spans(calendar: CalDAVCalendar, prefix: str) -> dict[str, tuple[datetime, datetime]]:
    return {
        e.almanac_id: (e.start, e.end)
        for e in await calendar.events(*window())
        if e.almanac_id and e.almanac_id.startswith(prefix)
    }


def sop(key: str) -> dict[str, Any]:
    task = {"id": key, "title": key.title(), "estimate_hours": 1.0}
    return {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": [task]}]}


async def test_trimming_and_cancelling_reach_caldav(
    tmp_root: Any,
    engine: AsyncEngine,
    embedder: Embedder,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,  # noqa: F811
    raw_calendar: Any,
    provider: CalDAVCalendar,
) -> None:
    state = make_state(tmp_root, engine, embedder, cache, caldav_settings)
    day = next_monday()
    raw_calendar.save_event(
        dtstart=datetime(day.year, day.month, day.day, 6, tzinfo=UTC),
        dtend=datetime(day.year, day.month, day.day, 7, tzinfo=UTC),
        summary="The user's own breakfast",
    )
    async with calendar_client_for(state) as api:
        plans = []
        for key, hours in (("build", 4.0), ("other", 2.0)):
            plan = await make_plan(db_session, [{"key": key, "estimate_hours": hours}], title=key)
            plan.sop = sop(key)
            body = {"plan_id": plan.id, "start_date": day.isoformat(), "dry_run": False}
            r = await api.post("/api/v1/scheduler/schedule", json=body)
            assert r.status_code == 200 and r.json()["calendar"]["created"], r.text
            plans.append(plan)
        mine, theirs = f"plan{plans[0].id}-", f"plan{plans[1].id}-"
        before, others = await spans(provider, mine), await spans(provider, theirs)
        assert sum((e - s).total_seconds() for s, e in before.values()) == 4 * 3600

        task = await db_session.scalar(select(Task).where(Task.plan_id == plans[0].id))
        assert task is not None
        r = await api.patch(f"/api/v1/planner/tasks/{task.id}", json={"estimate_hours": 1.5})
        assert r.status_code == 200, r.text
        after = await spans(provider, mine)
        assert sum((e - s).total_seconds() for s, e in after.values()) == 1.5 * 3600
        first = min(before, key=lambda k: before[k][0])
        assert first in after and after[first][0] == before[first][0]
        assert set(after) <= set(before)
        assert await spans(provider, theirs) == others

        r = await api.post(
            f"/api/v1/planner/plans/{plans[0].id}/status", json={"status": "cancelled"}
        )
        assert r.status_code == 200, r.text
        assert await spans(provider, mine) == {}
        assert await spans(provider, theirs) == others
    titles = [e.title for e in await provider.events(*window())]
    assert "The user's own breakfast" in titles


async def test_a_caldav_server_that_is_down_gets_the_change_later(
    tmp_root: Any,
    engine: AsyncEngine,
    embedder: Embedder,
    cache: Cache,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,  # noqa: F811
    provider: CalDAVCalendar,
) -> None:
    up = make_state(tmp_root, engine, embedder, cache, caldav_settings)
    gone = caldav_settings.model_copy(
        update={"caldav_url": f"http://127.0.0.1:{free_port()}/gone/"}
    )
    down = make_state(tmp_root, engine, embedder, cache, gone)
    day = next_monday()
    plan = await make_plan(db_session, [{"key": "build", "estimate_hours": 4.0}], title="A")
    plan.sop = sop("build")
    async with calendar_client_for(up) as api:
        body = {"plan_id": plan.id, "start_date": day.isoformat(), "dry_run": False}
        r = await api.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200, r.text
    mine = f"plan{plan.id}-"
    before = await spans(provider, mine)
    task = await db_session.scalar(select(Task).where(Task.plan_id == plan.id))
    assert task is not None

    async with calendar_client_for(down) as api:
        r = await api.patch(f"/api/v1/planner/tasks/{task.id}", json={"estimate_hours": 1.5})
    # The edit stands; the calendar write waits for the server.
    assert r.status_code == 200, r.text
    assert r.json()["task"]["estimate_hours"] == 1.5 and r.json()["blocks"]
    assert r.json()["calendar"]["pending"] is True, r.text
    assert await spans(provider, mine) == before

    row = (
        await db_session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id DESC"),
            {"t": TASK},
        )
    ).first()
    assert row is not None, "no calendar write was queued"
    assert await write_blocks(db_session, up.settings, cache, dict(row[0])) is not None
    after = await spans(provider, mine)
    assert sum((e - s).total_seconds() for s, e in after.values()) == 1.5 * 3600
