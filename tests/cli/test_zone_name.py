"""The zone the CLI reads typed times in: this shell's ALMANAC_TIMEZONE, else the running
server's. Without it the CLI read "--start 2026-12-10T09:00" in UTC while the server (and
its dashboard, schedules and /auth/me) lived in Europe/Berlin: a call an hour off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from almanac.cli import connect
from almanac.cli.when import zone_name
from almanac.discovery import write_record


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ALMANAC_TIMEZONE", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env of the checkout's
    monkeypatch.setattr(connect, "_DOTENV", None)
    return tmp_path


def test_the_running_servers_zone_when_the_shell_names_none(folder: Path) -> None:
    assert zone_name() == "UTC"
    write_record(folder, "127.0.0.1", 8090, ["memory", "planner"], "Europe/Berlin")
    assert zone_name() == "Europe/Berlin"


def test_the_shells_own_zone_comes_first(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_record(folder, "127.0.0.1", 8090, ["memory", "planner"], "Europe/Berlin")
    monkeypatch.setenv("ALMANAC_TIMEZONE", "America/New_York")
    assert zone_name() == "America/New_York"


def test_a_server_that_stopped_is_not_asked(folder: Path) -> None:
    path = write_record(folder, "127.0.0.1", 8090, ["planner"], "Europe/Berlin")
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999'))
    assert zone_name() == "UTC"
