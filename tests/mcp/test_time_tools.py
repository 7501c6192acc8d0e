"""The MCP time tools show spans as the CLI does (`almanac.clock.clock_span`): on the
user's clock, an end on a later day with that day, an end rounded up to its minute."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from mcp.types import CallToolResult, TextContent

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from almanac.mcp.tools.time import agenda_text, blocks_text, elsewhere_text, task_line
from almanac.state import AppState

NY = ZoneInfo("America/New_York")


def text(out: object) -> str:
    assert isinstance(out, CallToolResult) and not out.isError, out
    return "\n".join(c.text for c in out.content if isinstance(c, TextContent))


async def test_agenda_shows_an_event_over_two_nights_on_the_users_clock(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """An event from 01:00 to 01:14:59.9 two nights later, sent in UTC, read
    "06:00–06:14": the UTC clock, and as if it lasted 14 minutes."""
    state.settings.timezone = "America/New_York"
    day = datetime.now(NY).date() + timedelta(days=1)
    night = datetime.combine(day, datetime.min.time(), NY).replace(hour=1)
    end = night + timedelta(days=2, minutes=14, seconds=59, microseconds=900_000)
    body = {
        "title": "Away",
        "start": night.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
    }
    assert (await client.post("/api/v1/calendar/events", json=body)).status_code == 201
    server = build_server(lambda ctx: Api(client))
    shown = text(await server.call_tool("agenda", {"start_date": day.isoformat(), "days": 3}))
    assert shown.startswith("times in America/New_York:"), shown
    line = next(line for line in shown.splitlines() if "Away" in line)
    assert line.startswith(f"{day} 01:00-{end:%a %d %b} 01:15 [busy "), shown


def test_schedule_lines_use_the_schedules_zone_and_say_a_later_day() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    block = {
        "almanac_id": "b1",
        "plan_id": 2,
        "title": "Draft",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }
    assert blocks_text({"blocks": [block]}, zone) == ["b1: 2026-12-07 23:30-Tue 08 Dec 00:30 Draft"]
    assert elsewhere_text({"plan_id": 1, "placed": [block]}, zone) == [
        "adds plan 2 b1: 2026-12-07 23:30-Tue 08 Dec 00:30 Draft"
    ]
    # Without a zone, UTC (which the text says) rather than each time's own offset.
    offset = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    task = {"id": 5, "title": "Draft", "status": "scheduled", "scheduled_start": offset.isoformat()}
    assert task_line(task).endswith("at 2026-12-07 00:00 UTC")
    assert task_line(task, zone).endswith("at 2026-12-07 01:00 Europe/Berlin")


def test_an_all_day_event_over_days_names_its_last_day() -> None:
    first = date(2026, 12, 7)
    event = {
        "id": "e1",
        "title": "Offsite",
        "almanac": False,
        "all_day": True,
        "start": datetime.combine(first, datetime.min.time(), NY).isoformat(),
        "end": datetime.combine(first + timedelta(days=3), datetime.min.time(), NY).isoformat(),
    }
    assert agenda_text({"events": [event]}, NY).splitlines() == [
        "times in America/New_York:",
        "2026-12-07 all day, to Wed 09 Dec [busy e1] Offsite",
    ]
    assert agenda_text({"events": []}, NY) == "nothing scheduled"


def test_free_time_is_not_called_busy() -> None:
    """A declined invitation is stored as free time: the agenda called it "[busy e2]"."""
    at = datetime(2026, 12, 7, 10, tzinfo=NY)
    free = {"id": "e2", "title": "Declined sync", "almanac": False, "busy": False,
            "start": at.isoformat(), "end": (at + timedelta(hours=1)).isoformat()}  # fmt: skip
    busy = {**free, "id": "e3", "title": "Client call", "busy": True}
    assert agenda_text({"events": [free, busy]}, NY).splitlines() == [
        "times in America/New_York:",
        "2026-12-07 10:00-11:00 [free e2] Declined sync",
        "2026-12-07 10:00-11:00 [busy e3] Client call",
    ]
