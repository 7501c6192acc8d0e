"""/health reports the configured calendar."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from almanac.config import CalDAVCalendarSettings, GoogleCalendarSettings
from almanac.health.calendar import CALENDAR_OK_SECONDS
from almanac.state import AppState


def google() -> GoogleCalendarSettings:
    """Google chosen and configured, but never connected."""
    return GoogleCalendarSettings(
        google_client_id="id",
        google_client_secret=SecretStr("secret"),
        token_key=SecretStr(Fernet.generate_key().decode()),
    )


async def test_builtin_calendar_is_ok(client: httpx.AsyncClient) -> None:
    calendar = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert calendar == {**calendar, "status": "ok", "detail": "builtin"}


async def test_google_not_connected_is_degraded_with_what_to_do(
    client: httpx.AsyncClient, state: AppState
) -> None:
    state.settings.calendar = google()
    r = await client.get("/health")
    assert r.status_code == 200
    calendar = r.json()["dependencies"]["calendar"]
    assert calendar["status"] == "degraded"
    assert "not connected" in calendar["detail"] and "/oauth/authorize" in calendar["detail"]


async def test_the_calendar_probe_is_reused_then_refreshed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    first = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert first["status"] == "ok"
    # A remote calendar is not asked again on every /health: the answer is reused...
    state.settings.calendar = google()
    again = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert again == first
    # ...until it is older than the reuse window.
    at, status = state.probes["calendar"]
    state.probes["calendar"] = (at - CALENDAR_OK_SECONDS - 1, status)
    fresh = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert fresh["status"] == "degraded" and fresh["detail"].startswith("google:")


async def test_a_caldav_servers_ok_is_reused_for_seconds_not_minutes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """The reuse spares Google's quota; a CalDAV server is the user's own: one stopped
    read "ok" for five minutes while every request to it failed."""
    from almanac.health.calendar import OWN_SERVER_OK_SECONDS

    first = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert first["status"] == "ok"
    state.settings.calendar = CalDAVCalendarSettings(caldav_url="http://127.0.0.1:9/cal/")
    at, status = state.probes["calendar"]
    state.probes["calendar"] = (at - OWN_SERVER_OK_SECONDS - 1, status)
    fresh = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert fresh["status"] != "ok" and fresh["detail"].startswith("caldav"), fresh
    assert OWN_SERVER_OK_SECONDS < CALENDAR_OK_SECONDS


async def test_a_failed_calendar_request_is_degraded_at_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    from almanac.calendars.base import CalendarUnavailable

    first = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert first["status"] == "ok"  # now cached for minutes...
    CalendarUnavailable("connection refused while trying to apply changes")
    failed = (await client.get("/health")).json()["dependencies"]["calendar"]
    assert failed["status"] == "degraded"  # ...but a failed request is reported at once
    assert "connection refused" in failed["detail"]


async def test_a_failed_request_to_a_real_caldav_server_is_degraded_at_once(
    client: httpx.AsyncClient, state: AppState
) -> None:
    from tests.calendars.conftest import stop_server, xandikos_server

    with xandikos_server() as (url, proc):
        state.settings.calendar = CalDAVCalendarSettings(
            caldav_url=f"{url}user/calendars/calendar/"
        )
        state.probes.pop("calendar", None)
        first = (await client.get("/health")).json()["dependencies"]["calendar"]
        assert first["status"] == "ok", first  # probed for real, then reused for minutes...
        stop_server(proc)  # ...but Xandikos goes away
        r = await client.get("/api/v1/scheduler/calendar", params={"start_date": "2026-03-02"})
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.headers["Retry-After"] == "30"  # when to ask again, as for the database
        failed = (await client.get("/health")).json()["dependencies"]["calendar"]
        assert failed["status"] == "degraded"  # at once, not after the probe's reuse window
        assert failed["detail"].startswith("caldav: a request failed")
