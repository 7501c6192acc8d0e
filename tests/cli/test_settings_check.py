"""The settings check runs once per environment; any change to its inputs runs it again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys, typer\n"
    "from almanac.cli.settings_check import check_settings\n"
    "try:\n"
    "    check_settings()\n"
    "except typer.Exit as exc:\n"
    "    sys.exit(exc.exit_code)\n"
    "print('validated' if 'almanac.config' in sys.modules else 'remembered')\n"
)


def _probe(data: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ALMANAC_")}
    env.update(ALMANAC_DATA_DIR=str(data), **extra)
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_a_passed_check_is_remembered_until_an_input_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert _probe(data, tmp_path).stdout.strip() == "validated"
    assert _probe(data, tmp_path).stdout.strip() == "remembered"

    # A new variable, even a valid one, is checked again.
    zone = {"ALMANAC_TIMEZONE": "Europe/Berlin"}
    assert _probe(data, tmp_path, **zone).stdout.strip() == "validated"
    assert _probe(data, tmp_path, **zone).stdout.strip() == "remembered"
    # The earlier environment is still remembered beside it.
    assert _probe(data, tmp_path).stdout.strip() == "remembered"

    # An impossible value is never remembered: it fails every time, naming the variable.
    for _ in range(2):
        bad = _probe(data, tmp_path, ALMANAC_TIMEZONE="Mars/Base")
        assert bad.returncode == 2
        assert "ALMANAC_TIMEZONE" in bad.stderr and "Traceback" not in bad.stderr

    # ./.env is an input too.
    (tmp_path / ".env").write_text("ALMANAC_SCHEDULER__WORKDAY_END=25:00\n")
    bad = _probe(data, tmp_path)
    assert bad.returncode == 2 and "ALMANAC_SCHEDULER__WORKDAY_END" in bad.stderr


def test_no_data_folder_yet_means_no_stamp(tmp_path: Path) -> None:
    data = tmp_path / "not-yet"
    for _ in range(2):
        assert _probe(data, tmp_path).stdout.strip() == "validated"
    assert not data.exists()
