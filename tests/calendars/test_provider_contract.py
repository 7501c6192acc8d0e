"""The calendar provider contract, run against every provider Almanac ships.

The built-in calendar (Postgres), CalDAV (real Radicale and Xandikos servers) and Google
(the real client libraries against the local double) must behave the same to the
scheduler: what `apply` writes reads back exactly, a second `apply` changes nothing, only
Almanac's own events are ever changed, busy time merges the user's and Almanac's events.
What only one provider does (SEQUENCE in iCalendar, batches and backoff at Google,
advisory locks in Postgres) stays in that provider's own test module.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from caldav.davclient import DAVClient
from sqlalchemy.ext.asyncio import AsyncSession

from almanac import calendars
from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarProvider,
    EventSpec,
    event_uid,
    zone_name,
)
from almanac.calendars.caldav import CalDAVCalendar
from almanac.calendars.schemas import EventIn
from almanac.calendars.service import CalendarService
from tests.calendars.conftest import USER
from tests.calendars.shapes import BERLIN, WEEK, at, specs
from tests.doubles.google_calendar import FakeGoogle

# The user's own event, made in their own client: (title, start, end, busy).
AddUserEvent = Callable[[str, datetime, datetime, bool], Awaitable[None]]


@dataclass
class Subject:
    calendar: CalendarProvider
    add_user_event: AddUserEvent


def _ical_utc(moment: datetime) -> str:
    return ":" + moment.strftime("%Y%m%dT%H%M%SZ")


def _builtin(request: pytest.FixtureRequest) -> Subject:
    from almanac.calendars.builtin import BuiltinCalendar

    session: AsyncSession = request.getfixturevalue("db_session")

    async def add(title: str, start: datetime, end: datetime, busy: bool) -> None:
        await CalendarService(session).create_event(
            EventIn(title=title, start=start, end=end, busy=busy)
        )

    return Subject(BuiltinCalendar(session), add)


@pytest.fixture
async def closers() -> AsyncIterator[list[Callable[[], Awaitable[None]]]]:
    """Async clean-ups for subjects built by the (sync) `subject` fixture."""
    pending: list[Callable[[], Awaitable[None]]] = []
    yield pending
    for close in reversed(pending):
        await close()


def _caldav(request: pytest.FixtureRequest, server: str) -> Subject:
    """A fresh calendar on a real CalDAV server (Radicale or Xandikos)."""
    url: str = request.getfixturevalue(f"{server}_url")
    pending: list[Callable[[], Awaitable[None]]] = request.getfixturevalue("closers")
    client = DAVClient(url=url, username=USER, password="secret")
    request.addfinalizer(client.close)
    raw: Any = client.principal().make_calendar(name=f"contract-{uuid.uuid4().hex[:12]}")
    provider = CalDAVCalendar(
        url=url, calendar=str(raw.url), username=USER, password="secret", timezone="Europe/Berlin"
    )
    pending.append(provider.close)

    async def add(title: str, start: datetime, end: datetime, busy: bool) -> None:
        transp = "" if busy else "TRANSP:TRANSPARENT\r\n"
        raw.add_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:user-{title}-{start:%d%H%M}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART{_ical_utc(start)}\r\nDTEND{_ical_utc(end)}\r\nSUMMARY:{title}\r\n"
            f"{transp}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )

    return Subject(provider, add)


def _google(request: pytest.FixtureRequest) -> Subject:
    google: FakeGoogle = request.getfixturevalue("google")
    provider: CalendarProvider = request.getfixturevalue("google_calendar")

    async def add(title: str, start: datetime, end: datetime, busy: bool) -> None:
        google.add_event(
            summary=title,
            start={"dateTime": start.isoformat(), "timeZone": "UTC"},
            end={"dateTime": end.isoformat(), "timeZone": "UTC"},
            transparency="opaque" if busy else "transparent",
        )

    return Subject(provider, add)


@pytest.fixture(params=["builtin", "radicale", "xandikos", "google"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param in ("radicale", "xandikos"):
        return _caldav(request, request.param)
    return {"builtin": _builtin, "google": _google}[request.param](request)


async def test_apply_creates_events_that_read_back_exactly(subject: Subject) -> None:
    cal = subject.calendar
    result = await cal.apply(specs(), *WEEK)
    assert sorted(result.created) == ["t1", "t2", "t3"]
    assert result.updated == result.deleted == result.unchanged == []

    events = {e.almanac_id: e for e in await cal.events(*WEEK)}
    assert set(events) == {"t1", "t2", "t3"}
    for s in specs():
        e = events[s.almanac_id]
        assert (e.title, e.start, e.end, e.description) == (s.title, s.start, s.end, s.description)
        assert zone_name(e.start) == zone_name(s.start) and e.busy
        assert e.uid == event_uid(s.almanac_id) or cal.name == "google"  # Google picks ids
    assert zone_name(events["t1"].start) == "Europe/Berlin"
    assert zone_name(events["t2"].start) == "America/New_York"
    assert [e.almanac_id for e in await cal.events(*WEEK)] == ["t1", "t2", "t3"]  # by start


async def test_apply_twice_changes_nothing(subject: Subject) -> None:
    cal = subject.calendar
    await cal.apply(specs(), *WEEK)
    before = {e.almanac_id: (e.uid, e.etag) for e in await cal.events(*WEEK)}
    again = await cal.apply(specs(), *WEEK)
    assert again == ApplyResult(created=[], updated=[], deleted=[], unchanged=["t1", "t2", "t3"])
    assert {e.almanac_id: (e.uid, e.etag) for e in await cal.events(*WEEK)} == before


async def test_control_characters_are_written_as_spaces_and_read_back_unchanged(
    subject: Subject,
) -> None:
    """RFC 5545 forbids CONTROL characters in TEXT: CalDAV servers were sent a title with
    a BEL and an ESC. Every provider now writes the same cleaned text and reads it back,
    so a second `apply` changes nothing."""
    cal = subject.calendar
    spec = EventSpec("c1", "Call\x07 with\x1bclient", at(2, 9), at(2, 10), "a\x1b\r\nb")
    assert (await cal.apply([spec], *WEEK)).created == ["c1"]
    (event,) = await cal.events(*WEEK)
    assert (event.title, event.description) == ("Call  with client", "a \nb")
    again = await cal.apply([spec], *WEEK)
    assert again == ApplyResult(created=[], updated=[], deleted=[], unchanged=["c1"])


async def test_a_changed_spec_updates_that_event_and_a_dropped_one_is_deleted(
    subject: Subject,
) -> None:
    cal = subject.calendar
    await cal.apply(specs(), *WEEK)
    before = {e.almanac_id: e for e in await cal.events(*WEEK)}
    moved = EventSpec("t1", "Write report v2", at(2, 11, tz=BERLIN), at(2, 12, tz=BERLIN))
    result = await cal.apply([moved, specs()[1]], *WEEK)
    assert result == ApplyResult(created=[], updated=["t1"], deleted=["t3"], unchanged=["t2"])

    after = {e.almanac_id: e for e in await cal.events(*WEEK)}
    assert set(after) == {"t1", "t2"}
    t1 = after["t1"]
    assert (t1.title, t1.start, t1.end, t1.description) == (moved.title, moved.start, moved.end, "")
    assert t1.uid == before["t1"].uid  # changed in place, not deleted and re-created
    assert after["t2"].etag == before["t2"].etag
    assert (await cal.apply([moved, specs()[1]], *WEEK)).updated == []


async def test_a_scoped_apply_and_remove_touch_only_the_ids_in_scope(subject: Subject) -> None:
    """`only` limits the diff: Almanac's other events are neither deleted (absent from
    `desired`) nor rewritten, so `remove` cannot undo what another writer did meanwhile."""
    cal = subject.calendar
    await cal.apply(specs(), *WEEK)
    before = {e.almanac_id: e.etag for e in await cal.events(*WEEK)}
    moved = EventSpec("t1", "Write report", at(2, 11, tz=BERLIN), at(2, 12, tz=BERLIN))
    result = await cal.apply([moved], *WEEK, only=lambda aid: aid == "t1")
    assert result == ApplyResult(created=[], updated=["t1"], deleted=[], unchanged=[])
    assert await cal.remove(lambda aid: aid == "t2", *WEEK) == ["t2"]
    after = {e.almanac_id: e for e in await cal.events(*WEEK)}
    assert set(after) == {"t1", "t3"} and after["t1"].start == moved.start
    assert after["t3"].etag == before["t3"]  # never rewritten
    assert await cal.remove(lambda aid: aid == "t2", *WEEK) == []  # gone already


async def test_the_users_events_are_never_changed_and_count_as_busy(subject: Subject) -> None:
    cal = subject.calendar
    # The same time as Almanac's t1 block: still the user's own.
    await subject.add_user_event("Dentist", at(2, 8), at(2, 9, 30), True)
    [dentist] = await cal.events(*WEEK)

    await cal.apply(specs(), *WEEK)
    emptied = await cal.apply([], *WEEK)  # nothing desired: Almanac's go, the user's stays
    assert sorted(emptied.deleted) == ["t1", "t2", "t3"]

    [left] = await cal.events(*WEEK)
    assert left.almanac_id is None and left.title == "Dentist"
    assert (left.uid, left.start, left.end, left.etag) == (
        dentist.uid,
        dentist.start,
        dentist.end,
        dentist.etag,
    )
    assert await cal.busy(*WEEK) == [BusyInterval(at(2, 8), at(2, 9, 30))]


async def test_busy_merges_overlaps_clips_to_the_range_and_skips_free_time(
    subject: Subject,
) -> None:
    cal = subject.calendar
    await subject.add_user_event("Standup", at(2, 7), at(2, 8, 30), True)  # meets t1 (08:00Z)
    await subject.add_user_event("Lunch", at(4, 14), at(4, 15), True)  # touches t3's end
    await subject.add_user_event("Maybe", at(5, 10), at(5, 11), False)  # marked free
    await cal.apply(specs(), *WEEK)
    assert await cal.busy(*WEEK) == [
        BusyInterval(at(2, 7), at(2, 9, 30)),
        BusyInterval(at(3, 14), at(3, 15)),  # t2: 09:00-10:00 in New York (EST)
        BusyInterval(at(4, 13), at(4, 15)),
    ]
    assert await cal.busy(at(2, 8), at(2, 9)) == [BusyInterval(at(2, 8), at(2, 9))]


async def test_events_outside_the_window_are_left_alone(subject: Subject) -> None:
    cal = subject.calendar
    await cal.apply(specs(), *WEEK)
    next_week = (WEEK[1], WEEK[1] + timedelta(days=7))
    assert await cal.apply([], *next_week) == ApplyResult()
    assert len(await cal.events(*WEEK)) == 3


async def test_naive_datetimes_are_refused_naming_the_field(subject: Subject) -> None:
    cal = subject.calendar
    naive = datetime(2026, 3, 2, 9)
    with pytest.raises(ValueError, match="start"):
        await cal.events(naive, WEEK[1])
    with pytest.raises(ValueError, match="end"):
        await cal.busy(WEEK[0], naive)
    with pytest.raises(ValueError, match="window_start"):
        await cal.apply([], naive, WEEK[1])
    with pytest.raises(ValueError, match="outside the window"):
        await cal.apply([EventSpec("x", "Far", at(20, 9), at(20, 10))], *WEEK)
    assert await cal.events(*WEEK) == []


def test_every_shipped_provider_is_in_the_contract() -> None:
    """A new provider file must join the parametrisation above."""
    here = Path(calendars.__file__).parent
    # A class whose bases end with CalendarProvider (caldav.py's reads come from a mixin).
    provider = re.compile(r"^class \w+\((?:\w+, )*CalendarProvider\):", re.MULTILINE)
    providers = {p.stem for p in here.glob("*.py") if provider.search(p.read_text("utf-8"))}
    # `bounded` and `with_local` are no vendors: they wrap CalDAV's or Google's provider with
    # deadlines, and with the events added through Almanac (test_local_events_remote.py).
    assert providers == {"bounded", "builtin", "caldav", "google", "with_local"}
