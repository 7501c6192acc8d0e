"""A block moved by hand into the night a clock changes (Europe/Berlin, the tests' zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import CalendarEntry

from .conftest import TZ, make_plan, next_monday

URL = "/api/v1/scheduler"


def next_fall_back() -> date:
    """The next day (from tomorrow, within a year) whose clocks go back an hour in TZ."""
    today = datetime.now(TZ).date()
    for n in range(1, 370):
        day = today + timedelta(days=n)
        before = datetime.combine(day, time(0), tzinfo=TZ).utcoffset()
        after = datetime.combine(day, time(12), tzinfo=TZ).utcoffset()
        if before is not None and after is not None and after < before:
            return day
    raise AssertionError("no autumn clock change within a year")


async def scheduled_block(client: httpx.AsyncClient, session: AsyncSession) -> str:
    plan = await make_plan(session, [{"key": "review", "estimate_hours": 1.0}])
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    r = await client.post(f"{URL}/schedule", json={**body, "dry_run": False})
    assert r.status_code == 200, r.text
    return str(r.json()["blocks"][0]["almanac_id"])


async def test_a_block_moved_into_the_repeated_hour_is_pinned_there(
    sched_client: httpx.AsyncClient, db_session: AsyncSession
):
    """02:30 summer time to 02:30 winter time is an hour; a forced move there was a 500
    (the wall clocks compared equal, "start must be before end"), and a move starting at
    the second 02:00 a 500 too (its block was not found again to answer with)."""
    aid = await scheduled_block(sched_client, db_session)
    day = next_fall_back()
    first = datetime.combine(day, time(2, 30), tzinfo=TZ)
    second = first.replace(fold=1)
    assert (second.astimezone(UTC) - first.astimezone(UTC)) == timedelta(hours=1)
    for start, end in (
        (first, second),
        (datetime.combine(day, time(2), tzinfo=TZ).replace(fold=1), second + timedelta(minutes=30)),
    ):
        body = {"start": start.isoformat(), "end": end.isoformat(), "force": True}
        r = await sched_client.put(f"{URL}/calendar/{aid}", json=body)
        assert r.status_code == 200, r.text
        block = r.json()["block"]
        assert datetime.fromisoformat(block["start"]) == start.astimezone(UTC)
        assert datetime.fromisoformat(block["end"]) == end.astimezone(UTC)
        assert block["fixed"] is True
        entry = (
            await db_session.scalars(select(CalendarEntry).where(CalendarEntry.almanac_id == aid))
        ).one()
        await db_session.refresh(entry)
        # In UTC: a time in the repeated hour equals no time of another zone (PEP 495).
        assert (entry.start_at, entry.end_at) == (start.astimezone(UTC), end.astimezone(UTC))
        # The same move again (its answer lost) records nothing new.
        again = await sched_client.put(f"{URL}/calendar/{aid}", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["run_id"] == r.json()["run_id"]
