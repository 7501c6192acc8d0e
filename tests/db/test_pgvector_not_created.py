"""pgvector installed but not created, and a role that may not create it: `almanac serve`
and `almanac db upgrade` say what to run and as whom, in a few lines, no traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.databases import as_admin
from tests.live_server import free_port

DATABASE, ROLE, PASSWORD = "almanac_novector", "almanac_plain", "plain-pass-123"


async def _setup(pg_url: str) -> None:
    await as_admin(
        pg_url,
        f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)',
        f"DROP ROLE IF EXISTS {ROLE}",
        f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER PASSWORD '{PASSWORD}'",
        f'CREATE DATABASE "{DATABASE}" OWNER {ROLE}',
    )


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "memory"]])
def test_says_what_to_run_and_as_whom(pg_url: str, tmp_path: Path, command: list[str]) -> None:
    asyncio.run(_setup(pg_url))
    url = (
        make_url(pg_url)
        .set(database=DATABASE, username=ROLE, password=PASSWORD)
        .render_as_string(hide_password=False)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(ALMANAC_DATA_DIR=str(tmp_path), ALMANAC_DATABASE_URL=url)
    if command[0] == "serve":  # a free port: another server on the default one answers first
        command = [*command, "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "almanac", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "CREATE EXTENSION vector;" in output and "superuser" in output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "Warning" not in line and line.strip()]
    assert len(lines) <= 8, output
