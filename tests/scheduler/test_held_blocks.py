"""A task's past blocks keep their calendar events when the task is scheduled again: new
blocks never take their numbers (plan<id>-<task>-<chunk>), across later runs too."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import event_uid
from almanac.models import CalendarEntry, SchedulerRun

from .conftest import TZ, add_meeting, at, make_plan, next_monday, parse

URL = "/api/v1/scheduler"


async def test_a_past_block_keeps_its_event_through_a_schedule_and_a_replan(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    plan = await make_plan(db_session, [{"key": "design", "estimate_hours": 2.0}])
    plan.status = "scheduled"
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    past = (at(yesterday, 9), at(yesterday, 10))
    aid = f"plan{plan.id}-design-0"
    # What an earlier run wrote: one hour yesterday, its event still in the calendar.
    db_session.add(
        SchedulerRun(
            plan_id=plan.id,
            status="scheduled",
            schedule_blocks=[
                {
                    "task_key": "design",
                    "chunk": 0,
                    "start": past[0].isoformat(),
                    "end": past[1].isoformat(),
                    "reason": "",
                    "fixed": False,
                }
            ],
            metadata_={
                "window_start": at(yesterday, 0).isoformat(),
                "window_end": at(yesterday + timedelta(days=1), 0).isoformat(),
            },
        )
    )
    db_session.add(
        CalendarEntry(
            uid=event_uid(aid), title="Design", start_at=past[0], end_at=past[1], almanac_id=aid
        )
    )
    await db_session.flush()

    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    r = await sched_client.post(f"{URL}/schedule", json={**body, "dry_run": False})
    assert r.status_code == 200, r.text
    blocks = r.json()["blocks"]
    assert blocks and all(b["chunk"] != 0 for b in blocks)

    # The new run no longer holds yesterday's block; a replan must still leave it alone.
    first = blocks[0]
    await add_meeting(db_session, parse(first["start"]), parse(first["end"]), "Client call")
    r = await sched_client.post(f"{URL}/replan", json={"plan_id": plan.id, "dry_run": False})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["moves"] and all(b["chunk"] != 0 for b in out["blocks"])

    entry = await db_session.scalar(select(CalendarEntry).where(CalendarEntry.almanac_id == aid))
    assert entry is not None and (entry.start_at, entry.end_at) == past
