"""`almanac serve` refuses a port no socket can bind before it starts anything."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from almanac.cli.serve import _refuse_a_busy_port
from tests.live_server import free_port


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


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _listener(family: socket.AddressFamily, host: str, port: int = 0) -> socket.socket:
    sock = socket.socket(family)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.listen()
    return sock


@pytest.mark.skipif(not _ipv6(), reason="needs IPv6")
def test_a_port_busy_on_the_second_address_is_refused() -> None:
    # The host "" listens on 0.0.0.0 and :: (as uvicorn binds it). Before, only the first
    # address was probed: a port busy on :: passed, and uvicorn then failed and hung.
    with _listener(socket.AF_INET6, "::") as taken:
        port = taken.getsockname()[1]
        with pytest.raises(typer.Exit) as exited:
            _refuse_a_busy_port("", port)
    assert exited.value.exit_code == 1


@pytest.mark.skipif(not _ipv6(), reason="needs IPv6")
def test_a_port_uvicorn_can_bind_is_not_refused() -> None:
    # uvicorn binds an IPv6 address v6-only, so :: is free beside a server on 0.0.0.0;
    # the probe bound it dual-stack and refused a port uvicorn would have served on.
    with _listener(socket.AF_INET, "0.0.0.0") as taken:
        port = taken.getsockname()[1]
        _refuse_a_busy_port("::", port)

        async def bind() -> None:  # the premise: asyncio (uvicorn's binder) binds it
            server = await asyncio.get_running_loop().create_server(
                asyncio.Protocol, "::", port, start_serving=False
            )
            server.close()

        asyncio.run(bind())


def test_the_probe_leaves_the_port_free() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _refuse_a_busy_port("127.0.0.1", port)
    with _listener(socket.AF_INET, "127.0.0.1", port):  # nothing of the probe holds it
        pass


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_a_data_folder_that_cannot_be_made_is_refused_before_starting(
    where: str, tmp_path: Path
) -> None:
    # Before, the lifespan's mkdir raised FileExistsError/NotADirectoryError: a traceback.
    (tmp_path / "a-file").write_text("not a folder")
    env = {"PATH": "/usr/bin:/bin", "ALMANAC_DATA_DIR": str(tmp_path / where)}
    done = subprocess.run(
        [sys.executable, "-m", "almanac", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"ALMANAC_DATA_DIR: cannot use {tmp_path / where}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
