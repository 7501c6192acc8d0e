"""The calendar view says how many hours of blocks each day holds, as the scheduler counts
them: the user's daily maximum (remembered or set) within that weekday's working hours."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from .conftest import Memories, make_plan, next_monday

URL = "/api/v1/scheduler/calendar"


async def _limits(client: httpx.AsyncClient) -> dict[str, tuple[float, str]]:
    monday = next_monday()
    params = {"start_date": monday.isoformat(), "end_date": (monday + timedelta(6)).isoformat()}
    r = await client.get(URL, params=params)
    assert r.status_code == 200, r.text
    return {d["day"]: (d["hours"], d["limit"]) for d in r.json()["day_limits"]}


async def test_without_a_daily_max_a_working_day_holds_its_working_hours(
    sched_client: httpx.AsyncClient,
) -> None:
    limits = await _limits(sched_client)
    weekdays = [(next_monday() + timedelta(n)).isoformat() for n in range(5)]
    weekend = [(next_monday() + timedelta(n)).isoformat() for n in (5, 6)]
    # Weekends are days off: only a block forced there by hand could be on them.
    assert limits == {d: (8.0, "working hours") for d in weekdays} | {
        d: (0.0, "day off") for d in weekend
    }


async def test_a_remembered_daily_max_holds_every_working_day(
    sched_client: httpx.AsyncClient, memory: Memories
) -> None:
    await memory.add("constraint", "max 3 hours a day")
    limits = await _limits(sched_client)
    week = [(next_monday() + timedelta(n)).isoformat() for n in range(7)]
    # Every working day; a day off holds none (it was said to hold 3 h: the week read
    # "6 h" on the Fridays a user never works).
    assert limits == {d: (3.0, "daily max") for d in week[:5]} | {
        d: (0.0, "day off") for d in week[5:]
    }


async def test_the_view_reads_the_users_preferences_once(
    sched_client: httpx.AsyncClient,
    memory: Memories,
    db_session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The marks on blocks and the day limits each read the user's preference facts: two
    memory reads (two Gateway calls when apart) for one answer. Now one, the same limits."""
    from almanac.scheduler.preference_facts import PreferenceFacts

    await memory.add("constraint", "max 3 hours a day")
    plan = await make_plan(db_session, [{"key": "t0", "estimate_hours": 2.0}])
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "dry_run": False}
    assert (await sched_client.post("/api/v1/scheduler/schedule", json=body)).status_code == 200
    reads: list[int | None] = []
    texts = PreferenceFacts._texts

    async def counted(self: PreferenceFacts, client_id: int | None, warnings: list[str]) -> Any:
        reads.append(client_id)
        return await texts(self, client_id, warnings)

    monkeypatch.setattr(PreferenceFacts, "_texts", counted)
    limits = await _limits(sched_client)
    assert reads == [None]
    assert set(limits.values()) == {(3.0, "daily max"), (0.0, "day off")}


async def test_a_day_the_user_never_works_holds_nothing_whatever_the_daily_max(
    sched_client: httpx.AsyncClient, memory: Memories
) -> None:
    """ "I never work on Fridays" and "no more than 6 hours of focused work a day": the week
    said Fridays hold 6 h, and reports called 5 h forced onto one within its limit."""
    await memory.add("constraint", "I never work on Fridays")
    await memory.add("constraint", "No more than 6 hours of focused work a day")
    limits = await _limits(sched_client)
    week = [(next_monday() + timedelta(n)).isoformat() for n in range(7)]
    assert limits[week[3]] == (6.0, "daily max")
    assert limits[week[4]] == (0.0, "day off")
