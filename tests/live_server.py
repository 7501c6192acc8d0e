"""A real `almanac serve` subprocess on the suite's Postgres, for tests of its clients.

It commits on the suite's database, outside any test's transaction: it starts without the
starter workflow library (a test that needs workflows imports them, `import_workflows`),
and each test that uses it has the tables emptied afterwards (`committed_state`). Loaded
at start, the library stayed for every later test of the session (test_library counts
workflows from none).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.state import AppState
from tests.conftest import TEST_ADMIN_KEY


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    key: str  # an admin key (the test run's)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def create_key(self, name: str, scope: str) -> str:
        """A new key of `scope`."""
        r = httpx.post(
            self.url + "/api/v1/auth/keys",
            json={"name": name, "scope": scope},
            headers=self.headers,
            timeout=60,
        )
        r.raise_for_status()
        return str(r.json()["key"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until `/health` answers 200; fails with the server's log if it exits or stays silent."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"almanac serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("almanac serve did not become healthy:\n" + log.read_text()[-4000:])


def server_env(pg_url: str, data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(
        ALMANAC_DATABASE_URL=pg_url,
        ALMANAC_DATA_DIR=str(data_dir),
        ALMANAC_SERVER__PORT=str(port),
        ALMANAC_JOBS__EMBEDDED_WORKER="false",
        ALMANAC_SCHEDULER__TIME_LIMIT_SECONDS="2",
        ALMANAC_API_KEY=TEST_ADMIN_KEY,  # what `almanac mcp` and the CLI send
        ALMANAC_PLANNER__STARTER_LIBRARY="false",
        # A test writes more than a person does in a minute (as tests/conftest.py says).
        ALMANAC_SECURITY__RATE_LIMIT="100000/minute",
        ALMANAC_SECURITY__WRITE_RATE_LIMIT="100000/minute",
    )
    return env


@contextmanager
def serving(pg_url: str, data_dir: Path, **settings: str) -> Iterator[LiveServer]:
    """`almanac serve` on the suite's database from `data_dir`, with `settings` (ALMANAC_
    variables) over the suite's, until the block ends."""
    port = free_port()
    data_dir.mkdir(exist_ok=True)
    env = {**server_env(pg_url, data_dir, port), **settings}
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "almanac", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, data_dir / "serve.log")
        yield LiveServer(url=url, data_dir=data_dir, env=env, key=TEST_ADMIN_KEY)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def live_server_process(pg_url: str, tmp_root: Path, engine: AsyncEngine) -> Iterator[LiveServer]:
    """`engine` first: the database is migrated and holds the test run's admin key."""
    with serving(pg_url, tmp_root / "live-server") as server:
        yield server


@pytest.fixture
def live_server(live_server_process: LiveServer, committed_state: AppState) -> LiveServer:
    """The session's server, for one test; what it wrote is gone after the test."""
    return live_server_process
