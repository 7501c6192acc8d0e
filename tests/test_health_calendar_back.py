"""/health's calendar entry after the CalDAV server comes back: ok at the first request it
answers, not after the 30 s a degraded probe is reused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from caldav.davclient import DAVClient

from almanac.config import CalDAVCalendarSettings
from almanac.state import AppState
from tests.calendars.conftest import USER, _wait_until_up, stop_server
from tests.live_server import free_port

VIEW = "/api/v1/scheduler/calendar"


def radicale(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """Radicale on `port` keeping its collections in `folder` (so a restart finds them)."""
    cmd = [
        sys.executable,
        "-m",
        "radicale",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(folder / "collections"),
        "--auth-type",
        "none",
        "--rights-type",
        "owner_only",
    ]
    with (folder / "radicale.log").open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    _wait_until_up(proc, f"http://127.0.0.1:{port}/", "radicale", folder / "radicale.log")
    return proc


async def _calendar(client: httpx.AsyncClient) -> dict[str, object]:
    return dict((await client.get("/health")).json()["dependencies"]["calendar"])


async def test_the_calendar_is_ok_in_health_once_a_request_is_answered_again(
    client: httpx.AsyncClient, state: AppState, tmp_path: Path
) -> None:
    """A request answered after Radicale's restart (the calendar view, 200) left /health
    saying "caldav: a request failed: cannot reach ..." for another 30 s."""
    port = free_port()
    proc = radicale(port, tmp_path)
    try:
        dav = DAVClient(url=f"http://127.0.0.1:{port}/", username=USER, password="secret")
        raw = dav.principal().make_calendar(name="back")
        dav.close()
        state.settings.calendar = CalDAVCalendarSettings(caldav_url=str(raw.url))
        state.probes.pop("calendar", None)
        assert (await _calendar(client))["status"] == "ok"
        week = {"start_date": "2026-03-02"}

        stop_server(proc)
        assert (await client.get(VIEW, params=week)).status_code == 503
        down = await _calendar(client)
        assert down["status"] == "degraded" and "cannot reach" in str(down["detail"])

        proc = radicale(port, tmp_path)
        r = await client.get(VIEW, params=week)
        assert r.status_code == 200, r.text
        back = await _calendar(client)
        assert back["status"] == "ok" and back["detail"] == "caldav", back
    finally:
        stop_server(proc)
