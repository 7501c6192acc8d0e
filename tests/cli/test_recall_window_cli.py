"""`almanac recall --since/--until`: the API's time window from the terminal, on the user's
clock (ALMANAC_TIMEZONE) like the other commands; the command had neither option."""

from __future__ import annotations

import json

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


def test_a_query_with_no_word_says_so(cli_env: AppState) -> None:
    code, out = invoke("remember", "🎉 party on Friday")
    assert code == 0, out
    code, out = invoke("recall", "🎉")
    assert code == 0, out
    assert "no match: the query holds no letter or digit" in out, out
    assert "relevance floor" not in out
