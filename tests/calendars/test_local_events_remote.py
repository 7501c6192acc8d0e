"""With CalDAV configured, the events added through Almanac (kept in Postgres) are busy
time and are shown: an outside probe added "Dentist" with `almanac calendar add` under
CalDAV (201, "added event #1") and the schedule then placed work on top of it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.caldav import CalDAVCalendar
from almanac.config import CalendarSettings
from tests.calendars.conftest import Clients, States
from tests.scheduler.conftest import make_plan, next_monday


async def test_an_event_added_through_almanac_blocks_time_under_caldav(
    state_for: States,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    raw_calendar: Any,
    provider: CalDAVCalendar,
) -> None:
    state = state_for(caldav_settings)
    tz = ZoneInfo(state.settings.timezone)
    monday = next_monday()
    # The whole working Monday but 16:00-17:00 is the dentist's, added through Almanac.
    start, end = datetime.combine(monday, time(7), tz), datetime.combine(monday, time(16), tz)
    plan = await make_plan(db_session, [{"key": "a", "estimate_hours": 3.0}], title="p")
    task = {"id": "a", "title": "Audit", "estimate_hours": 3.0}
    plan.sop = {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": [task]}]}
    async with calendar_client_for(state) as api:
        r = await api.post(
            "/api/v1/calendar/events",
            json={"title": "Dentist", "start": start.isoformat(), "end": end.isoformat()},
        )
        assert r.status_code == 201, r.text
        body = {"plan_id": plan.id, "start_date": monday.isoformat(), "dry_run": False}
        r = await api.post("/api/v1/scheduler/schedule", json=body)
        assert r.status_code == 200, r.text
        blocks = r.json()["blocks"]
        assert blocks
        for b in blocks:
            assert datetime.fromisoformat(b["end"]) <= start or end <= datetime.fromisoformat(
                b["start"]
            ), b
        week = {
            "start_date": monday.isoformat(),
            "end_date": (monday + timedelta(days=4)).isoformat(),
        }
        view = await api.get("/api/v1/scheduler/calendar", params=week)
        assert view.status_code == 200, view.text
        assert "Dentist" in view.text
    # The dentist stays Almanac's own record: nothing of it is written to the CalDAV server.
    assert all(
        "Dentist" not in str(e.icalendar_component.get("SUMMARY")) for e in raw_calendar.events()
    )
    assert {e.almanac_id for e in await provider.events(start, end + timedelta(days=5))} - {None}
