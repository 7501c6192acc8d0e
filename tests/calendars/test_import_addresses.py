"""An .ics import knows the user's addresses: an invitation they declined is free time."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
from pydantic import SecretStr

from almanac.calendars.factory import user_addresses
from almanac.config import CalDAVCalendarSettings
from almanac.state import AppState
from tests.calendars.conftest import Clients

BASE = "/api/v1/calendar"
WINDOW = {"start": "2026-03-02T00:00:00+00:00", "end": "2026-03-09T00:00:00+00:00"}


def invitations() -> bytes:
    """Ana declined Monday's meeting and accepted Tuesday's; on Wednesday a colleague
    declined, which is theirs; Thursday's series Ana declined as a whole."""

    def vevent(uid: str, day: int, ana: str, other: str, extra: str = "") -> str:
        return (
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:202603{day:02}T100000Z\r\nDTEND:202603{day:02}T110000Z\r\n"
            "ORGANIZER:mailto:client@example.com\r\n"
            f"ATTENDEE;CN=Ana;PARTSTAT={ana}:MAILTO:Ana@Example.COM\r\n"
            f"ATTENDEE;PARTSTAT={other}:mailto:bo@example.com\r\n{extra}END:VEVENT\r\n"
        )

    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
        + vevent("declined", 2, "DECLINED", "ACCEPTED")
        + vevent("accepted", 3, "ACCEPTED", "DECLINED")
        + vevent("theirs", 4, "ACCEPTED", "DECLINED")
        + vevent("series", 5, "DECLINED", "ACCEPTED", "RRULE:FREQ=DAILY;COUNT=2\r\n")
        + "END:VCALENDAR\r\n"
    ).encode()


async def _import(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.post(
        f"{BASE}/import",
        content=invitations(),
        params={**WINDOW, **params},
        headers={"content-type": "text/calendar"},
    )


async def _busy(client: httpx.AsyncClient) -> dict[str, list[bool]]:
    out: dict[str, list[bool]] = {}
    for e in (await client.get(f"{BASE}/events", params=WINDOW)).json():
        out.setdefault(e["uid"].split("#")[0], []).append(e["busy"])
    return out


MINE = {"declined": [False], "accepted": [True], "theirs": [True], "series": [False, False]}


async def test_the_address_given_with_the_import_frees_what_the_user_declined(
    calendar_client: httpx.AsyncClient,
):
    """Without an address (main's only reading) every invitation blocked time; the same
    file imported again naming the user frees the declined ones (a re-import updates)."""
    r = await _import(calendar_client)
    assert r.status_code == 200, r.text
    assert all(all(b) for b in (await _busy(calendar_client)).values())
    r = await _import(calendar_client, address="mailto:ANA@example.com")
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 3
    assert await _busy(calendar_client) == MINE


async def test_the_configured_addresses_are_the_users(
    state: AppState, calendar_client_for: Clients
):
    calendar = state.settings.calendar.model_copy(update={"user_addresses": ["ana@example.com"]})
    own = dataclasses.replace(
        state, settings=state.settings.model_copy(update={"calendar": calendar})
    )
    async with calendar_client_for(own) as client:
        assert (await _import(client)).status_code == 200
        assert await _busy(client) == MINE


async def test_an_address_that_is_none_is_422_naming_it(calendar_client: httpx.AsyncClient):
    for bad in ("ana", "ana@example", "a b@example.com", "ana@@example.com", "x" * 250 + "@a.de"):
        r = await _import(calendar_client, address=bad)
        assert r.status_code == 422, (bad, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["address"]
    assert (await calendar_client.get(f"{BASE}/events", params=WINDOW)).json() == []


def test_a_caldav_login_that_is_an_address_is_the_users():
    settings = CalDAVCalendarSettings(
        caldav_url="http://127.0.0.1:5232/ana/cal/",
        caldav_username="Ana@Example.com",
        caldav_password=SecretStr("x"),
        user_addresses=["mailto:work@example.org"],
    )
    assert user_addresses(settings) == {"ana@example.com", "work@example.org"}
    plain = settings.model_copy(update={"caldav_username": "ana"})
    assert user_addresses(plain) == {"work@example.org"}
