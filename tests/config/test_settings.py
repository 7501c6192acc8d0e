"""Settings: IANA zones only, nested sections from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from almanac.config import ConfigurationError, Settings, load_settings


def test_timezone_must_be_an_iana_zone() -> None:
    assert Settings(timezone="Europe/Berlin", _env_file=None).timezone == "Europe/Berlin"  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(timezone="Mars/Base", _env_file=None)  # type: ignore[call-arg]
    # In the zone folder but no IANA name: "localtime" is whatever the host is set to.
    for odd in ("localtime", "posixrules", "posix/Europe/Berlin", "right/UTC"):
        with pytest.raises(ValidationError, match="not an IANA time zone"):
            Settings(timezone=odd, _env_file=None)  # type: ignore[call-arg]
    for name in ("UTC", "Etc/GMT+1", "America/Argentina/Buenos_Aires"):
        assert Settings(timezone=name, _env_file=None).timezone == name  # type: ignore[call-arg]


def test_nested_sections_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_PLANNER__MATCH_THRESHOLD", "0.7")
    monkeypatch.setenv("ALMANAC_CALENDAR__PROVIDER", "caldav")
    monkeypatch.setenv("ALMANAC_CALENDAR__CALDAV_URL", "http://127.0.0.1:5232/me/work/")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.planner.match_threshold == 0.7
    assert settings.calendar.provider == "caldav"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {
                "ALMANAC_SCHEDULER__WORKDAY_START": "09:00",
                "ALMANAC_SCHEDULER__WORKDAY_END": "09:00",
            },
            "ALMANAC_SCHEDULER__WORKDAY_END",
        ),
        ({"ALMANAC_SCHEDULER__WORKDAY_START": "18:00"}, "ALMANAC_SCHEDULER__WORKDAY_END"),
        ({"ALMANAC_SCHEDULER__WORKDAY_END": "25:00"}, "ALMANAC_SCHEDULER__WORKDAY_END"),
        ({"ALMANAC_SCHEDULER__WORKING_DAYS": "[]"}, "ALMANAC_SCHEDULER__WORKING_DAYS"),
        ({"ALMANAC_SCHEDULER__WORKING_DAYS": "[0, 8]"}, "ALMANAC_SCHEDULER__WORKING_DAYS"),
        ({"ALMANAC_SCHEDULER__DAILY_MAX_HOURS": "10"}, "ALMANAC_SCHEDULER__DAILY_MAX_HOURS"),
        ({"ALMANAC_SERVER__PLANNER_PORT": "8090"}, "ALMANAC_SERVER__PLANNER_PORT"),
        ({"ALMANAC_TIMEZONE": "Mars/Base"}, "ALMANAC_TIMEZONE"),
        # The client's limit on a silent server must leave the server's own limit first.
        (
            {"ALMANAC_DATABASE__COMMAND_TIMEOUT_SECONDS": "30"},
            "ALMANAC_DATABASE__COMMAND_TIMEOUT_SECONDS",
        ),
        # Per-provider settings: what a provider needs is checked at start, not per request.
        ({"ALMANAC_LLM__PROVIDER": "openai", "ALMANAC_LLM__MODEL": "m"}, "ALMANAC_LLM__BASE_URL"),
        (
            {"ALMANAC_LLM__PROVIDER": "openai", "ALMANAC_LLM__BASE_URL": "http://h/v1"},
            "ALMANAC_LLM__MODEL",
        ),
        (
            {"ALMANAC_EMBEDDER__PROVIDER": "openai", "ALMANAC_EMBEDDER__MODEL": "m"},
            "ALMANAC_EMBEDDER__DIM",
        ),
        ({"ALMANAC_CALENDAR__PROVIDER": "caldav"}, "ALMANAC_CALENDAR__CALDAV_URL"),
        ({"ALMANAC_CALENDAR__PROVIDER": "google"}, "ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET"),
        ({"ALMANAC_CALENDAR__TOKEN_KEY": "too-short"}, "ALMANAC_CALENDAR__TOKEN_KEY"),
        # URLs: a client that cannot open one would fail at the first request, or crash the
        # start with its own traceback.
        ({"ALMANAC_VALKEY_URL": "localhost:6379"}, "ALMANAC_VALKEY_URL: must start with redis"),
        ({"ALMANAC_CACHE__VALKEY_URL": "redis://h:port/0"}, "ALMANAC_CACHE__VALKEY_URL: not a URL"),
        (
            {"ALMANAC_DATABASE_URL": "mysql://h/db"},
            "DATABASE_URL: must start with postgres",
        ),
        ({"ALMANAC_DATABASE__URL": "db.example"}, "ALMANAC_DATABASE__URL"),
        ({"ALMANAC_SERVER__MEMORY_GATEWAY_URL": "gateway:8090"}, "MEMORY_GATEWAY_URL: must start"),
        ({"ALMANAC_SERVER__MEMORY_GATEWAY_URL": "http://"}, "MEMORY_GATEWAY_URL: names no host"),
        ({"ALMANAC_ZEP__BASE_URL": "api.getzep.com"}, "ALMANAC_ZEP__BASE_URL"),
        (
            {"ALMANAC_CALENDAR__PROVIDER": "caldav", "ALMANAC_CALENDAR__CALDAV_URL": "dav.host"},
            "ALMANAC_CALENDAR__CALDAV_URL: must start with http",
        ),
        (
            {
                "ALMANAC_LLM__PROVIDER": "openai",
                "ALMANAC_LLM__MODEL": "m",
                "ALMANAC_LLM__BASE_URL": "openrouter.ai/api/v1",
            },
            "ALMANAC_LLM__BASE_URL: must start with http",
        ),
        # Numbers: inf passes `gt=0`, and a timedelta of it (or of a huge one) overflows at
        # the first schedule or retention run.
        ({"ALMANAC_SCHEDULER__FROZEN_HOURS": "inf"}, "FROZEN_HOURS: Input should be a finite"),
        ({"ALMANAC_SCHEDULER__FROZEN_HOURS": "1e12"}, "ALMANAC_SCHEDULER__FROZEN_HOURS"),
        ({"ALMANAC_JOBS__RETENTION_DAYS": "1000000"}, "ALMANAC_JOBS__RETENTION_DAYS"),
        ({"ALMANAC_CACHE__SOCKET_TIMEOUT_SECONDS": "inf"}, "SOCKET_TIMEOUT_SECONDS"),
        # A socket timeout past time_t, a timedelta past its range: both overflow when used.
        ({"ALMANAC_CACHE__SOCKET_TIMEOUT_SECONDS": "1e300"}, "SOCKET_TIMEOUT_SECONDS"),
        ({"ALMANAC_JOBS__STALLED_AFTER_SECONDS": "1e300"}, "STALLED_AFTER_SECONDS"),
        ({"ALMANAC_LLM__TIMEOUT_SECONDS": "1e300"}, "ALMANAC_LLM__TIMEOUT_SECONDS"),
        # A misspelt operation would keep its default without a word.
        ({"ALMANAC_LLM__BUDGET_SECONDS": '{"planing": 5}'}, "'planing' is no operation"),
        # A list setting that is not JSON fails before validation.
        ({"ALMANAC_SECURITY__ALLOWED_HOSTS": "a.example"}, "ALMANAC_SECURITY: a list"),
    ],
)
def test_impossible_settings_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tempfile.gettempdir())  # no .env file
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        # A generated password (base64: `/`, `+`, `=`) works unquoted: the engine reads the
        # URL with SQLAlchemy's parser, which takes everything up to `@` as the password.
        "postgresql://almanac:Ab/c+d=@db.example:5432/almanac",
        "postgresql://almanac:pa#ss?w[rd@db.example/almanac",
        "postgres://almanac:secret@db.example/almanac",
        "postgresql+asyncpg://almanac@[::1]:5432/almanac",
        "postgresql:///almanac?host=/var/run/postgresql",
    ],
)
def test_postgres_urls_the_engine_opens_are_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    from almanac.jobs.app import to_conninfo

    monkeypatch.setenv("ALMANAC_DATABASE_URL", url)
    monkeypatch.chdir(tempfile.gettempdir())  # no .env file
    assert load_settings().effective_database_url == url
    to_conninfo(url)  # the job queue's reading of it works too


def test_a_refused_url_does_not_echo_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # The message goes to a terminal or a service's log.
    monkeypatch.setenv("ALMANAC_DATABASE_URL", "mysql://almanac:Hunter2/xyz@db.example/db")
    monkeypatch.setenv("ALMANAC_VALKEY_URL", "redis://:Hunter3#xyz@valkey.example:port/0")
    monkeypatch.chdir(tempfile.gettempdir())
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "ALMANAC_DATABASE_URL" in message and "ALMANAC_VALKEY_URL" in message
    assert "db.example" in message  # still says which URL
    assert "Hunter2" not in message and "Hunter3" not in message


def test_working_hours_are_times_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALMANAC_SCHEDULER__WORKDAY_START", "08:30")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.scheduler.workday_start == time(8, 30)
    assert settings.scheduler.workday_end == time(17, 0)


def test_serve_stops_with_the_variable_named_and_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ALMANAC_DATA_DIR": str(tmp_path),
        "ALMANAC_SCHEDULER__WORKDAY_START": "09:00",
        "ALMANAC_SCHEDULER__WORKDAY_END": "09:00",
    }
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ALMANAC_SCHEDULER__WORKDAY_END" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "pg").exists()  # stopped before starting anything


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALMANAC_SECURITY__ALLOWED_HOSTS", "a.example"), ("ALMANAC_VALKEY_URL", "valkey:6379")],
)
def test_serve_stops_on_an_unreadable_value_without_a_traceback(
    tmp_path: Path, name: str, value: str
) -> None:
    # Before: pydantic-settings' SettingsError, or redis-py's ValueError from the lifespan.
    env = {**os.environ, "ALMANAC_DATA_DIR": str(tmp_path), name: value}
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert name.split("__")[0] in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "pg").exists()


def test_serve_stops_on_an_incomplete_provider(tmp_path: Path) -> None:
    env = {**os.environ, "ALMANAC_DATA_DIR": str(tmp_path), "ALMANAC_LLM__PROVIDER": "openai"}
    env.pop("ALMANAC_LLM__MODEL", None)
    env.pop("ALMANAC_LLM__BASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ALMANAC_LLM__BASE_URL: required when ALMANAC_LLM__PROVIDER=openai" in done.stderr
    assert "ALMANAC_LLM__MODEL" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "pg").exists()


def test_the_client_limit_follows_a_longer_statement_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A statement timeout above the default client limit (65 s) was valid before that limit
    # existed; unset, the client's limit must still come after the server's own, or a
    # statement the server allows is cut client-side, its connection dropped (a false 503).
    monkeypatch.setenv("ALMANAC_DATABASE__STATEMENT_TIMEOUT_SECONDS", "120")
    database = Settings(_env_file=None).database  # type: ignore[call-arg]
    assert database.command_timeout_seconds > database.statement_timeout_seconds == 120
    # Set explicitly, it is kept, and still checked against the statement timeout.
    monkeypatch.setenv("ALMANAC_DATABASE__COMMAND_TIMEOUT_SECONDS", "200")
    assert Settings(_env_file=None).database.command_timeout_seconds == 200  # type: ignore[call-arg]
    monkeypatch.setenv("ALMANAC_DATABASE__COMMAND_TIMEOUT_SECONDS", "100")
    with pytest.raises(ValidationError, match="longer than statement_timeout_seconds"):
        Settings(_env_file=None)  # type: ignore[call-arg]
