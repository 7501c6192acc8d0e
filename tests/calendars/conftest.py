"""Real CalDAV servers for the calendar tests, Radicale and Xandikos, started once per session.

Every test that takes `provider` or `raw_calendar` runs against both servers (`dav_url` is
parametrized). Each test gets its own freshly made calendar collection, so tests never see
each other's events.
The built-in calendar's API tests get `calendar_client`: the full app over HTTP, every request
inside the test's rolled-back transaction.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from almanac.cache import Cache, LocalCache
from almanac.calendars.caldav import CalDAVCalendar
from almanac.calendars.google import GoogleCalendar
from almanac.config import (
    CalDAVCalendarSettings,
    CalendarSettings,
    GoogleCalendarSettings,
    SchedulerSettings,
    Settings,
)
from almanac.db.engine import create_sessionmaker
from almanac.embedder import Embedder
from almanac.state import AppState
from tests.calendars.shapes import KEY, connect
from tests.conftest import app_in_transaction, http_client
from tests.doubles.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.live_server import free_port
from tests.scheduler.conftest import TZ_NAME, next_monday

USER = "almanac-test"
# How long Radicale or Xandikos may take to start: only a broken one reaches it.
START_SECONDS = 60


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, name: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early; see {log}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start within {START_SECONDS} s") from None
            time.sleep(0.05)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def _radicale(auth_type: str) -> Iterator[str]:
    """Run `python -m radicale` on a free 127.0.0.1 port until the block ends; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="almanac-radicale-") as d:
        port = free_port()
        path = Path(d) / "radicale.log"
        cmd = [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(Path(d) / "collections"),
            "--auth-type",
            auth_type,
            "--rights-type",
            "owner_only",
        ]
        with path.open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}/"
            try:
                _wait_until_up(proc, url, "radicale", path)
                yield url
            finally:
                stop_server(proc)


@contextmanager
def xandikos_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `xandikos serve` (no authentication; one principal, /user/) on a free 127.0.0.1
    port until the block ends; yields its URL and the process."""
    with tempfile.TemporaryDirectory(prefix="almanac-xandikos-") as d:
        port = free_port()
        path = Path(d) / "xandikos.log"
        cmd = [
            sys.executable,
            "-m",
            "xandikos",
            "serve",
            "--directory",
            str(Path(d) / "data"),
            "--state-dir",
            str(Path(d) / "state"),
            "--defaults",
            "--listen-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-detect-systemd",
        ]
        with path.open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}/"
            try:
                _wait_until_up(proc, url, "xandikos", path)
                yield url, proc
            finally:
                stop_server(proc)


@pytest.fixture(scope="session")
def radicale_url() -> Iterator[str]:
    """Radicale accepting any user name and password (`--auth-type none`)."""
    with _radicale("none") as url:
        yield url


@pytest.fixture(scope="session")
def denying_radicale_url() -> Iterator[str]:
    """Radicale refusing every login (`--auth-type denyall`)."""
    with _radicale("denyall") as url:
        yield url


@pytest.fixture(scope="session")
def xandikos_url() -> Iterator[str]:
    with xandikos_server() as (url, _):
        yield url


@pytest.fixture(scope="session", params=["radicale", "xandikos"])
def dav_url(request: pytest.FixtureRequest) -> str:
    """The URL of each CalDAV server in turn."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(scope="session")
def dav_client(dav_url: str) -> Iterator[Any]:
    client = DAVClient(url=dav_url, username=USER, password="secret")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def raw_calendar(dav_client: Any) -> Any:
    """A fresh, empty calendar collection, written through caldav directly (the "user")."""
    return dav_client.principal().make_calendar(name=f"test-{uuid.uuid4().hex[:12]}")


@asynccontextmanager
async def dav_provider(dav_url: str, raw_calendar: Any) -> AsyncIterator[CalDAVCalendar]:
    """Almanac's CalDAV provider on the test's calendar collection, closed on exit."""
    cal = CalDAVCalendar(
        url=dav_url,
        calendar=str(raw_calendar.url),
        username=USER,
        password="secret",
        timezone="Europe/Berlin",
    )
    try:
        yield cal
    finally:
        await cal.close()


@pytest.fixture
async def provider(dav_url: str, raw_calendar: Any) -> AsyncIterator[CalDAVCalendar]:
    async with dav_provider(dav_url, raw_calendar) as cal:
        yield cal


@pytest.fixture
def caldav_settings(raw_calendar: Any) -> CalDAVCalendarSettings:
    """Settings naming the test's calendar collection as Almanac's calendar."""
    return CalDAVCalendarSettings(
        caldav_url=str(raw_calendar.url),
        caldav_username=USER,
        caldav_password="secret",  # type: ignore[arg-type]
    )


@pytest.fixture
def caldav_gone(caldav_settings: CalDAVCalendarSettings) -> CalDAVCalendarSettings:
    """The same settings with the server gone: a port nothing listens on."""
    return caldav_settings.model_copy(
        update={"caldav_url": f"http://127.0.0.1:{free_port()}/gone/"}
    )


# -- Google, through its real client libraries against the local double ------------------------


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(time_zone="Europe/Berlin") as double:
        yield double


@pytest.fixture
def cal_settings(google: FakeGoogle) -> GoogleCalendarSettings:
    return GoogleCalendarSettings(
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_api_base_url=google.root_url,
        google_token_uri=google.token_uri,
        token_key=KEY,
        busy_cache_seconds=300,
    )


@pytest.fixture
async def google_calendar(
    db_session: AsyncSession, google: FakeGoogle, cal_settings: GoogleCalendarSettings
) -> AsyncIterator[GoogleCalendar]:
    """A connected Google calendar (quick retries, so backoff tests stay fast)."""
    await connect(db_session, google)
    cal = GoogleCalendar.from_settings(
        cal_settings, session=db_session, cache=LocalCache(), base_delay=0.001, max_attempts=4
    )
    try:
        yield cal
    finally:
        await cal.close()


# -- the built-in calendar's API ---------------------------------------------------------------


Clients = Callable[[AppState], AbstractAsyncContextManager[httpx.AsyncClient]]
States = Callable[[CalendarSettings], AppState]


@pytest.fixture
def state_for(tmp_root: Path, engine: AsyncEngine, embedder: Embedder, cache: Cache) -> States:
    """States over the test database with a given calendar, in the scheduler tests' zone."""

    def make(cal: CalendarSettings) -> AppState:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_root / "data",
            timezone=TZ_NAME,
            calendar=cal,
            # Each remote call under the writers' lock has a quarter of it: the default
            # (20 s) left 5 s, which Radicale's own expansion of a minutely series for a
            # time-range read outlasted on a loaded machine (test_dense_series). Tests of
            # that deadline set their own lock.
            scheduler=SchedulerSettings(time_limit_seconds=2.0, write_lock_timeout_seconds=120),
            _env_file=None,
        )
        return AppState(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            cache=cache,
            embedder=embedder,
            services=["memory", "planner"],
        )

    return make


def next_week() -> tuple[datetime, datetime]:
    """A span holding the whole of next week, where the scheduled blocks fall."""
    start = datetime.combine(next_monday(), datetime.min.time(), tzinfo=UTC)
    return start - timedelta(days=2), start + timedelta(days=9)


BREAKFAST = "The user's own breakfast"


def add_breakfast(raw_calendar: Any, hour: int) -> None:
    """The user's own hour-long event next Monday at `hour` UTC, saved straight to the
    server (Almanac must leave it alone)."""
    day = next_monday()
    raw_calendar.save_event(
        dtstart=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        dtend=datetime(day.year, day.month, day.day, hour + 1, tzinfo=UTC),
        summary=BREAKFAST,
    )


async def queued_args(session: AsyncSession, task: str) -> dict[str, Any]:
    """The arguments of the newest job queued for `task`."""
    row = (
        await session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id DESC"),
            {"t": task},
        )
    ).first()
    assert row is not None, f"no {task} job was queued"
    return dict(row[0])


@pytest.fixture
def calendar_client_for(db_session: AsyncSession) -> Clients:
    """Clients over a given state, with every request inside the test's transaction."""

    @asynccontextmanager
    async def make(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
        async with http_client(app_in_transaction(state, db_session)) as c:
            yield c

    return make


@pytest.fixture
async def calendar_client(
    state: AppState, calendar_client_for: Clients
) -> AsyncIterator[httpx.AsyncClient]:
    """The full app over HTTP, inside the test's transaction."""
    async with calendar_client_for(state) as c:
        yield c
