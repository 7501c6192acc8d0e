"""The conflicts the calendar view marks, through a real CalDAV server (Radicale, Xandikos):
a recurring event's occurrences share their UID, and each is marked for its own overlaps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from almanac.config import CalDAVCalendarSettings
from almanac.state import AppState
from tests.calendars.test_caldav_retries import calendar_app
from tests.conftest import http_client, ok
from tests.scheduler.races import body, chain, plans


async def test_an_occurrence_is_marked_only_for_its_own_overlap(
    committed_state: AppState, raw_calendar: Any, caldav_settings: CalDAVCalendarSettings
) -> None:
    state, app = calendar_app(committed_state, caldav_settings)
    (plan_id,) = await plans(state, chain(1, 1.0))
    async with http_client(app) as api:
        out = await ok(await api.post("/api/v1/scheduler/schedule", json=body(plan_id)))
        [block] = out["blocks"]
        start = datetime.fromisoformat(block["start"]).astimezone(UTC)
        # The user's series: once over the block, once at 03:00 that day (no block then).
        night = start.replace(hour=3, minute=0)
        stamp = "%Y%m%dT%H%M%SZ"
        raw_calendar.add_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
            "BEGIN:VEVENT\r\nUID:weekly-sync\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start:{stamp}}\r\nDURATION:PT30M\r\n"
            f"RDATE:{night:{stamp}}\r\nSUMMARY:Weekly sync\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        view = await ok(
            await api.get(
                "/api/v1/scheduler/calendar", params={"start_date": start.date().isoformat()}
            )
        )
    series = [e for e in view["events"] if e["uid"] == "weekly-sync"]
    blocks = [e for e in view["events"] if e["almanac"]]
    assert len(series) == 2 and len(blocks) == 1

    def overlapping(e: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
        s, t = datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"])
        return [
            f"overlaps {o['title']!r}"
            for o in others
            if datetime.fromisoformat(o["start"]) < t and s < datetime.fromisoformat(o["end"])
        ]

    for occurrence in series:
        assert occurrence["conflicts"] == overlapping(occurrence, blocks), occurrence
    assert sorted(len(o["conflicts"]) for o in series) == [0, 1]
    assert blocks[0]["conflicts"] == [f"overlaps {'Weekly sync'!r}"]
