"""`almanac serve` refuses a port no socket can bind before it starts anything."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("port", ["-1", "0", "65536", "99999999999"])
def test_a_port_out_of_range_is_refused_before_starting(port: str, tmp_path: Path) -> None:
    # Before, the database started and uvicorn then hung on the port: a subprocess with a
    # deadline, so a regression fails instead of hanging the suite.
    env = {"PATH": "/usr/bin:/bin", "ALMANAC_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "serve", "--port", port],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Invalid value for '--port'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "postgres").exists()  # nothing was started


def test_a_busy_port_is_refused_before_starting(tmp_path: Path) -> None:
    # Before, the embedded database started, uvicorn logged "address already in use" and
    # the process hung (`make run` with 8090 taken): now it exits at once, saying so.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {"PATH": "/usr/bin:/bin", "ALMANAC_DATA_DIR": str(tmp_path / "data")}
        done = subprocess.run(
            [sys.executable, "-m", "almanac", "serve", "--host", "127.0.0.1", "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "postgres").exists()  # nothing was started
