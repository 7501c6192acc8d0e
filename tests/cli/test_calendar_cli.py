"""`almanac calendar import|add` end to end against the test database.

In-process mode (no server answering): the commands call the same API routes a server
would serve, over ASGI.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from almanac.cli.calendar import calendar_app
from almanac.db.engine import create_engine
from almanac.state import AppState
from tests.calendars.shapes import ICS
from tests.live_server import free_port

runner = CliRunner()

WINDOW = ("--start", "2026-03-01T00:00:00Z", "--end", "2026-04-01T00:00:00Z")


def _root() -> typer.Typer:
    """A root app holding the `calendar` group, as cli/main.py will."""
    root = typer.Typer()

    @root.callback()
    def _main() -> None:
        """Test root."""

    root.add_typer(calendar_app, name="calendar")
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(_root(), ["calendar", *args])
    return result.exit_code, result.output


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run SQL on a fresh engine (the CLI runs its own event loop, not the suite's)."""

    async def go() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement))
                return [tuple(r) for r in result]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_import_twice_creates_nothing_new(cli_env: AppState, pg_url: str, tmp_path: Path):
    src = tmp_path / "mine.ics"
    src.write_text(ICS)
    code, out = invoke("import", str(src), *WINDOW)
    assert code == 0, out
    assert "imported 4 events (0 updated, 0 unchanged, 0 skipped)" in out  # 1 + 3 occurrences
    code, out = invoke("import", str(src), *WINDOW)
    assert code == 0 and "imported 0 events (0 updated, 4 unchanged, 0 skipped)" in out
    rows = sql(pg_url, "SELECT title, almanac_id FROM calendar_entries ORDER BY start_at")
    assert rows == [("Gym", None), ("Dentist", None), ("Gym", None), ("Gym", None)]


def test_import_says_a_series_read_as_continuous_busy_time(
    cli_env: AppState, pg_url: str, tmp_path: Path
):
    """The API's notes were never printed: a spam invite repeating every second became a
    week of busy time, and the next schedule moved around it with nothing said."""
    src = tmp_path / "spam.ics"
    src.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Spam//EN\r\nBEGIN:VEVENT\r\n"
        "UID:spam@x\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\n"
        "DURATION:PT1S\r\nRRULE:FREQ=SECONDLY;COUNT=1000000000\r\nSUMMARY:Win\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    code, out = invoke("import", str(src), *WINDOW)
    assert code == 0, out
    assert "note: " in out and "continuous busy" in out, out


def test_import_with_an_address_stores_its_declined_invitation_as_free(
    cli_env: AppState, pg_url: str, tmp_path: Path
):
    src = tmp_path / "invite.ics"
    src.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\nBEGIN:VEVENT\r\n"
        "UID:invite\r\nDTSTART:20260303T090000Z\r\nDTEND:20260303T100000Z\r\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    code, out = invoke("import", str(src), *WINDOW, "--address", "Ana@Example.com")
    assert code == 0, out
    assert sql(pg_url, "SELECT uid, busy FROM calendar_entries") == [("invite", False)]
    code, out = invoke("import", str(src), *WINDOW, "--address", "ana")
    assert code != 0 and "address" in out


def test_add_creates_a_user_event_once_per_key(cli_env: AppState, pg_url: str):
    args = (
        "add",
        "Dentist",
        "--start",
        "2026-03-03T09:00+01:00",
        "--end",
        "2026-03-03T10:00+01:00",
    )
    code, out = invoke(*args, "--key", "dentist", "--free")
    assert code == 0, out
    assert "added event #" in out and "'Dentist'" in out and "already present" not in out
    code, out = invoke(*args, "--key", "dentist", "--free")
    assert code == 0 and "(already present)" in out
    # The same key for another event (busy this time) is refused, not answered with the first.
    code, out = invoke(*args, "--key", "dentist")
    assert code != 0 and "already used for a different event" in out
    rows = sql(pg_url, "SELECT uid, busy, start_at FROM calendar_entries")
    assert rows == [("dentist", False, datetime(2026, 3, 3, 8, tzinfo=UTC))]


def test_rm_deletes_a_user_event_and_refuses_an_unknown_one(cli_env: AppState, pg_url: str):
    """An event added by mistake could not be removed from the CLI (only by the API)."""
    code, out = invoke(
        "add", "Test ev", "--start", "2026-03-04T14:00+01:00", "--end", "2027-03-04T15:00+01:00"
    )
    assert code == 0, out
    event_id = out.split("#", 1)[1].split()[0]
    code, out = invoke("rm", event_id)
    assert code == 0 and f"removed event #{event_id} (" in out, out
    assert sql(pg_url, "SELECT count(*) FROM calendar_entries") == [(0,)]
    code, out = invoke("rm", event_id)
    assert code == 2 and "does not exist" in out, out


def test_a_time_without_offset_is_read_in_the_configured_zone(
    cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Europe/Berlin")
    code, out = invoke(
        "add", "Call", "--start", "2026-12-03T09:00:00", "--end", "2026-12-03T10:00:00+01:00"
    )
    assert code == 0, out
    assert "read in Europe/Berlin (ALMANAC_TIMEZONE)" in out
    rows = sql(pg_url, "SELECT start_at, end_at FROM calendar_entries")
    assert rows == [(datetime(2026, 12, 3, 8, tzinfo=UTC), datetime(2026, 12, 3, 9, tzinfo=UTC))]
    # Summer time: the same wall clock is 07:00 UTC; a time the zone skips is refused.
    code, out = invoke("add", "Walk", "--start", "2026-07-01T09:00", "--end", "2026-07-01T09:30")
    assert code == 0, out
    code, out = invoke("add", "Gap", "--start", "2026-03-29T02:30", "--end", "2026-03-29T04:00")
    assert code == 2 and "start" in out and "does not exist in Europe/Berlin" in out
    # 02:30 on the night the clocks go back is two instants an hour apart: only an offset
    # tells which, and taking the first made a 02:30-03:30 event last two hours.
    code, out = invoke("add", "Twice", "--start", "2026-10-25T02:30", "--end", "2026-10-25T03:30")
    assert code == 2 and "happens twice in Europe/Berlin" in out and "+02:00 or +01:00" in out
    assert sql(pg_url, "SELECT count(*) FROM calendar_entries WHERE title = 'Twice'") == [(0,)]
    assert sql(pg_url, "SELECT min(start_at) FROM calendar_entries WHERE title = 'Walk'") == [
        (datetime(2026, 7, 1, 7, tzinfo=UTC),)
    ]
    # With an offset, the zone is not used and not mentioned.
    code, out = invoke("add", "Z", "--start", "2026-12-04T09:00Z", "--end", "2026-12-04T10:00Z")
    assert code == 0 and "ALMANAC_TIMEZONE" not in out, out


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/Berlin", "0001-01-01T00:00", "0001-01-01T01:00"),  # UTC is in year 0
        ("America/New_York", "9999-12-31T22:00", "9999-12-31T23:00"),  # UTC in year 10000
    ],
)
def test_a_time_without_offset_centuries_away_exits_2_naming_the_field(
    cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch, zone: str, start: str, end: str
):
    # Reading it in the zone overflowed Python's datetime: a traceback, not the API's bound.
    monkeypatch.setenv("ALMANAC_TIMEZONE", zone)
    code, out = invoke("add", "Far", "--start", start, "--end", end)
    assert code == 2, out
    assert "start: must lie between the years 1900 and 2200" in out, out
    assert sql(pg_url, "SELECT count(*) FROM calendar_entries") == [(0,)]


def test_an_added_event_is_shown_on_the_users_clock(
    cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    """It was shown as the API answers, in UTC: a call typed as 14:00+01:00 read 13:00."""
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Europe/Berlin")
    start, end = "2026-12-03T14:00:00+01:00", "2026-12-03T15:00:00+01:00"
    code, out = invoke("add", "Client call", "--start", start, "--end", end)
    assert code == 0, out
    assert f"{start} to {end}" in out, out
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")
    code, out = invoke("add", "Late", "--start", "2026-12-03T20:00Z", "--end", "2026-12-03T21:00Z")
    assert code == 0 and "2026-12-03T15:00:00-05:00 to 2026-12-03T16:00:00-05:00" in out, out


def test_bad_input_exits_2_naming_the_field(cli_env: AppState, pg_url: str, tmp_path: Path):
    code, out = invoke("add", "X", "--start", "soon", "--end", "2026-03-03T10:00Z")
    assert code == 2 and "start" in out
    code, out = invoke("add", "X", "--start", "2026-03-03T09:00Z", "--end", "2026-03-03T08:00Z")
    assert code == 2 and out.strip() == "error: end must be after start"  # as the API says it
    bad = tmp_path / "bad.ics"
    bad.write_text("not a calendar")
    code, out = invoke("import", str(bad))
    assert code == 2 and "not a valid iCalendar" in out
    code, out = invoke("import", str(tmp_path / "missing.ics"))
    assert code == 2
    assert sql(pg_url, "SELECT count(*) FROM calendar_entries") == [(0,)]


def test_feed_url_prints_the_secret_address(
    cli_env: AppState, _own_data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    code, out = invoke("feed-url")
    assert code == 0, out
    token = (_own_data_dir / "ics-feed-token").read_text().strip()
    port = os.environ["ALMANAC_SERVER__PORT"]
    assert out.strip() == f"http://127.0.0.1:{port}/api/v1/calendar/feed.ics?token={token}"
    code, out = invoke("feed-url", "--json")
    assert code == 0 and json.loads(out)["token_source"] == "data_folder"
    # A configured token wins over the file.
    monkeypatch.setenv("ALMANAC_CALENDAR__ICS_FEED_TOKEN", "my-own-token")
    code, out = invoke("feed-url")
    assert code == 0 and out.strip().endswith("/feed.ics?token=my-own-token")


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (["x" * 600], "error: title: must be at most 500 characters long"),
        (["x", "--key", "k" * 300], "error: idempotency_key: must be at most 255 characters long"),
    ],
)
def test_a_text_too_long_is_worded_in_characters(extra: list[str], line: str) -> None:
    """Was "Value should have at most 500 items": the API's wording, not pydantic's raw one."""
    when = ["--start", "2026-12-01T10:00+01:00", "--end", "2026-12-01T11:00+01:00"]
    url = ["--url", f"http://127.0.0.1:{free_port()}"]  # refused before any request
    result = runner.invoke(calendar_app, ["add", *extra, *when, *url])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line
