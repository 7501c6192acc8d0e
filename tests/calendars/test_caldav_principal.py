"""What the CalDAV provider asks of the user's principal, against the real servers the
calendar tests start on loopback (conftest.py): the calendar named in the settings, found
under the principal's calendar-home-set, and the user's calendar-user-address-set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient

from almanac.calendars import caldav_principal
from almanac.calendars.caldav import CalDAVCalendar
from almanac.calendars.caldav_principal import PrincipalLookups
from tests.calendars.shapes import WEEK


def invitation(calendar: Any, uid: str, day: int, attendee: str) -> None:
    """An invitation on the server that `attendee` declined."""
    calendar.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:202603{day:02}T100000Z\r\nDTEND:202603{day:02}T110000Z\r\nSUMMARY:{uid}\r\n"
        f"ORGANIZER:mailto:client@example.com\r\nATTENDEE;PARTSTAT=DECLINED:{attendee}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """The principal address lookups made, as (server URL, login), with the per-process
    cache of their answers emptied for the test."""
    monkeypatch.setattr(caldav_principal, "_ADDRESSES", {})
    made: list[tuple[str, str]] = []
    real = PrincipalLookups._addresses

    def counted(self: PrincipalLookups) -> frozenset[str] | None:
        made.append((self.url, self._username or ""))
        return real(self)

    monkeypatch.setattr(PrincipalLookups, "_addresses", counted)
    yield made


def provider(url: str, login: str, calendar: str, *addresses: str) -> CalDAVCalendar:
    return CalDAVCalendar(
        url=url, calendar=calendar, username=login, password="secret", addresses=addresses
    )


async def test_a_calendar_named_is_found_among_the_principals_calendars(
    radicale_url: str,
) -> None:
    """A name (not a URL) is looked up among the calendars of the principal's
    calendar-home-set (current-user-principal, then the home's collections)."""
    login = f"home-{uuid.uuid4().hex[:8]}"
    client = DAVClient(url=radicale_url, username=login, password="secret")
    try:
        principal = client.principal()
        for name in ("Work", "Home"):
            cal = principal.make_calendar(name=name)
            invitation(cal, f"{name.lower()}-event", 2, "mailto:someone@example.com")
        for name in ("Home", "Work"):
            named = provider(radicale_url, login, name)
            try:
                await named.check()
                assert [e.uid for e in await named.events(*WEEK)] == [f"{name.lower()}-event"]
            finally:
                await named.close()
    finally:
        client.close()


async def test_radicales_address_set_is_asked_once_and_names_no_mailto(
    radicale_url: str, lookups: list[tuple[str, str]]
) -> None:
    """Radicale answers calendar-user-address-set with the principal's own path, not a
    mailto: address: the lookup succeeds (kept for the process, not asked again by the
    next provider), adds no address, and only a configured one frees the invitation."""
    login = f"addresses-{uuid.uuid4().hex[:8]}"
    client = DAVClient(url=radicale_url, username=login, password="secret")
    try:
        raw = client.principal().make_calendar(name="Invitations")
        invitation(raw, "declined", 3, "mailto:Ana@Example.com")
        for addresses, busy in (((), True), (("ana@example.com",), False)):
            cal = provider(radicale_url, login, str(raw.url), *addresses)
            try:
                (event,) = await cal.events(*WEEK)
                assert event.busy is busy
            finally:
                await cal.close()
        assert lookups == [(radicale_url, login)]
        assert caldav_principal._ADDRESSES == {(radicale_url, login): frozenset()}
    finally:
        client.close()


def _set_addresses(principal: str, *addresses: str) -> None:
    """PROPPATCH the principal's calendar-user-address-set (none: remove it)."""
    hrefs = "".join(f"<D:href>{a}</D:href>" for a in addresses)
    prop = f"<D:prop><C:calendar-user-address-set>{hrefs}</C:calendar-user-address-set></D:prop>"
    change = f"<D:set>{prop}</D:set>" if addresses else f"<D:remove>{prop}</D:remove>"
    body = (
        '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
        f'xmlns:C="urn:ietf:params:xml:ns:caldav">{change}</D:propertyupdate>'
    )
    answer = httpx.request(
        "PROPPATCH",
        principal,
        content=body,
        headers={"content-type": "application/xml; charset=utf-8"},
        timeout=10,
    )
    assert answer.status_code == 207, answer.text
    assert "200" in answer.text, answer.text


async def test_the_principals_mailto_address_frees_what_the_user_declined(
    xandikos_url: str, lookups: list[tuple[str, str]]
) -> None:
    """A login that is no address and no configured address: the principal's mailto:
    calendar-user-address-set (RFC 6638) is who the user is, compared case-blind."""
    login = f"principal-{uuid.uuid4().hex[:8]}"
    client = DAVClient(url=xandikos_url, username=login, password="secret")
    principal = str(client.principal().url)
    mine = f"mailto:{login}@Example.org"
    _set_addresses(principal, mine)
    try:
        raw = client.principal().make_calendar(name=f"test-{uuid.uuid4().hex[:12]}")
        invitation(raw, "mine", 2, mine.lower())
        invitation(raw, "theirs", 3, "mailto:client@example.com")
        cal = provider(xandikos_url, login, str(raw.url))
        try:
            events = await cal.events(*WEEK)
        finally:
            await cal.close()
        assert [(e.uid, e.busy) for e in events] == [("mine", False), ("theirs", True)]
        assert lookups == [(xandikos_url, login)]
        assert caldav_principal._ADDRESSES[(xandikos_url, login)] == {f"{login}@example.org"}
    finally:
        _set_addresses(principal)  # the server is the session's: leave it as it was
        client.close()
