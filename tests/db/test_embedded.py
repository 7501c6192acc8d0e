"""The embedded Postgres as `almanac serve` runs it: password auth, private directories, and
no server left behind after a `kill -9` once the next server stops cleanly. Real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.live_server import free_port
from tests.test_serve import _postgres_pids, _wait_healthy


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _socket_dir(pgdata: Path) -> Path:
    # postmaster.pid line 5 is the socket directory.
    return Path((pgdata / "postmaster.pid").read_text().splitlines()[4])


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_DATA_DIR"] = str(data_dir)
    env["ALMANAC_JOBS__EMBEDDED_WORKER"] = "false"
    cmd = [sys.executable, "-m", "almanac", "serve", "memory", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def _connect(socket_dir: Path, password: str | None) -> None:
    conn = await asyncpg.connect(
        host=str(socket_dir), user="postgres", password=password, database="postgres"
    )
    await conn.close()


def test_password_auth_private_dirs_and_no_postgres_left_after_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pgdata = data / "postgres"
    port = free_port()
    first = _serve(data, port)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", first)
        password_file = data / "postgres-password"
        assert _mode(password_file) == 0o600
        for folder in (pgdata, _socket_dir(pgdata)):
            assert _mode(folder) == 0o700, folder
        # As root the server runs as its own user, who must traverse the data folder.
        assert _mode(data) == (0o711 if os.geteuid() == 0 else 0o700)
        assert "trust" not in (pgdata / "pg_hba.conf").read_text()
        socket_dir = _socket_dir(pgdata)
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_connect(socket_dir, None))
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(_connect(socket_dir, "wrong"))
        asyncio.run(_connect(socket_dir, password_file.read_text().strip()))
    finally:
        first.kill()  # kill -9: no cleanup runs
        first.wait(30)
    assert _postgres_pids(data), "the killed server's Postgres should still be running"

    port = free_port()
    second = _serve(data, port)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", second)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    deadline = time.monotonic() + 20
    while _postgres_pids(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postgres_pids(data) == [], "the adopted Postgres was left running"
