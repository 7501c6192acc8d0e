"""A task renamed renames its blocks in a real CalDAV server too (Radicale and Xandikos), at
once, and only its own (with the server down: `test_rename_in_place`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalendarSettings
from tests.calendars.conftest import Clients, States, add_breakfast, next_week

from .test_freeing_remote import scheduled, spans


async def titles(calendar: CalDAVCalendar, prefix: str) -> dict[str, str]:
    return {
        e.almanac_id: e.title
        for e in await calendar.events(*next_week())
        if e.almanac_id and e.almanac_id.startswith(prefix)
    }


async def test_a_renamed_task_is_renamed_in_caldav(
    state_for: States,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    raw_calendar: Any,
    provider: CalDAVCalendar,
) -> None:
    add_breakfast(raw_calendar, 6)
    async with calendar_client_for(state_for(caldav_settings)) as api:
        plan, task = await scheduled(api, db_session, "build", 3.0)
        other, _ = await scheduled(api, db_session, "other", 1.0)
        mine, theirs = f"plan{plan.id}-", f"plan{other.id}-"
        where, others = await spans(provider, mine), await titles(provider, theirs)
        r = await api.patch(f"/api/v1/planner/tasks/{task.id}", json={"title": "Build it"})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["calendar"]["updated"]) == sorted(where)
    assert set((await titles(provider, mine)).values()) == {"Build it"}
    assert await spans(provider, mine) == where
    assert await titles(provider, theirs) == others
