"""Times in the memory commands: `almanac recall --since/--until` (the API's window, on the
user's clock, ALMANAC_TIMEZONE, like the other commands; recall had neither option), and
`almanac memory import` of memories that have expired since they were exported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from almanac.cli.main import app
from almanac.state import AppState
from tests.cli.test_memory_cli import invoke, runner, sql

# When each standup happened, and the day it was in Berlin (CET, +01:00 in March): the UTC
# day of the first and the last differs.
STANDUPS = {
    "Standup notes A about the Acme launch": ("2026-03-09T22:30:00+00:00", "03-09"),
    "Standup notes B about the Acme launch": ("2026-03-09T23:30:00+00:00", "03-10"),
    "Standup notes C about the Acme launch": ("2026-03-10T22:30:00+00:00", "03-10"),
    "Standup notes D about the Acme launch": ("2026-03-10T23:30:00+00:00", "03-11"),
}
QUERY = "standup notes about the Acme launch"


@pytest.fixture
def standups(cli_env: AppState, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_TIMEZONE", "Europe/Berlin")
    for content, (at, _) in STANDUPS.items():
        code, out = invoke("remember", content)
        assert code == 0, out
        sql(pg_url, f"UPDATE events SET occurred_at = '{at}' WHERE content = '{content}'")


def _found(*args: str) -> set[str]:
    result = runner.invoke(app, ["recall", QUERY, "--json", *args])
    assert result.exit_code == 0, result.output
    return {hit["content"] for hit in json.loads(result.stdout)["results"]}


def _on(*days: str) -> set[str]:
    return {content for content, (_, day) in STANDUPS.items() if day in days}


@pytest.mark.usefixtures("standups")
def test_a_date_is_the_whole_day_on_the_users_clock() -> None:
    assert _found() == set(STANDUPS)
    assert _found("--since", "2026-03-10", "--until", "2026-03-10") == _on("03-10")
    assert _found("--since", "2026-03-10") == _on("03-10", "03-11")
    assert _found("--until", "2026-03-10") == _on("03-09", "03-10")


@pytest.mark.usefixtures("standups")
def test_a_time_without_an_offset_is_read_in_the_users_zone() -> None:
    # 23:00 in Berlin is 22:00 UTC: C (22:30Z) is after it, though 22:30 < 23:00.
    assert _found("--since", "2026-03-10T23:00") == _on("03-11") | {
        "Standup notes C about the Acme launch"
    }
    # With an offset, the time is that instant.
    assert _found("--since", "2026-03-10T23:00+00:00") == _on("03-11")
    code, out = invoke("recall", QUERY, "--since", "2026-03-10T23:00")
    assert code == 0 and "read in Europe/Berlin (ALMANAC_TIMEZONE)" in out, out


@pytest.mark.usefixtures("standups")
def test_a_bad_window_names_the_option() -> None:
    code, out = invoke("recall", QUERY, "--since", "yesterday")
    assert code != 0 and "--since" in out, out
    code, out = invoke("recall", QUERY, "--since", "2026-03-11", "--until", "2026-03-10")
    assert code != 0 and "--until" in out, out
    # The hour the clocks go back happens twice in Berlin: only an offset says which.
    code, out = invoke("recall", QUERY, "--until", "2026-10-25T02:30")
    assert code == 2 and "--until" in out and "twice" in out, out


@pytest.mark.parametrize(
    ("zone", "option", "value"),
    [
        ("UTC", "--until", "9999-12-31"),  # its next day: an OverflowError traceback
        ("Europe/Berlin", "--since", "9999-12-31"),
        # Before about 1890 a zone's local mean time has an offset in seconds: the API
        # could not read what was sent and answered with a parser's message.
        ("America/Los_Angeles", "--since", "0001-01-01"),
        ("America/Los_Angeles", "--until", "1850-06-01T12:00"),
    ],
)
def test_a_window_beyond_the_years_names_the_bound(
    cli_env: AppState, monkeypatch: pytest.MonkeyPatch, zone: str, option: str, value: str
) -> None:
    monkeypatch.setenv("ALMANAC_TIMEZONE", zone)
    result = runner.invoke(app, ["recall", QUERY, option, value])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{option}: must lie between the years 1900 and 2200" in result.output, result.output


def test_a_query_with_no_word_says_so(cli_env: AppState) -> None:
    code, out = invoke("remember", "🎉 party on Friday")
    assert code == 0, out
    code, out = invoke("recall", "🎉")
    assert code == 0, out
    assert "no match: the query holds no letter or digit" in out, out
    assert "relevance floor" not in out


def test_an_empty_window_says_so_not_the_floor(cli_env: AppState) -> None:
    code, out = invoke("remember", "Dentist appointment moved to the 3rd at 10 am")
    assert code == 0, out
    code, out = invoke("recall", "dentist", "--since", "2001-01-01", "--until", "2001-01-31")
    assert code == 0, out
    assert "no match: nothing is stored within the filters given (since, until)" in out, out
    assert "relevance floor" not in out


def test_import_skips_what_has_expired_since_the_export(
    cli_env: AppState, pg_url: str, tmp_path: Path
) -> None:
    # An export holds every event, expired ones too; remember now refuses an expiry already
    # past, so the import counts them rather than failing (or storing what no read shows).
    now = datetime.now(UTC)
    lines = [
        {
            "content": "Door code 4821 for the week",
            "occurred_at": (now - timedelta(days=9)).isoformat(),
            "expires_at": (now - timedelta(days=2)).isoformat(),
        },
        {
            "content": "Door code 1234 from now on",
            "expires_at": (now + timedelta(days=30)).isoformat(),
        },
        {"content": "The office moved to the third floor"},
    ]
    src = tmp_path / "export.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    code, out = invoke("memory", "import", str(src))
    assert code == 0, out
    assert "imported 2 memories (0 already present, 1 expired: not imported)" in out, out
    contents = {row[0] for row in sql(pg_url, "SELECT content FROM events")}
    assert contents == {"Door code 1234 from now on", "The office moved to the third floor"}
