"""CalDAVCalendar against real Radicale and Xandikos servers (see conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from caldav.davclient import DAVClient

from almanac.calendars.base import (
    LAST_NOTICE,
    BusyInterval,
    CalendarConflict,
    CalendarUnavailable,
    EventSpec,
    event_uid,
)
from almanac.calendars.caldav import CalDAVCalendar
from almanac.calendars.vevent import build_vcalendar
from tests.calendars.shapes import BERLIN, NEW_YORK, WEEK, at, specs


def user_event(calendar: Any, uid: str, start: str, end: str, extra: str = "") -> Any:
    """An event the user made in their own client: no X-ALMANAC-ID, a foreign UID."""
    ical = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART{start}\r\nDTEND{end}\r\nSUMMARY:Dentist\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return calendar.add_event(ical)


async def test_applied_events_carry_the_marker_and_zone_other_clients_see(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """What another client sees on the server: our UID, X-ALMANAC-ID and the TZID (the
    read-back itself is in the provider contract)."""
    await provider.apply(specs(), *WEEK)
    stored = raw_calendar.event_by_uid(event_uid("t1")).icalendar_component
    assert str(stored["X-ALMANAC-ID"]) == "t1"
    assert stored["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert all(e.href for e in await provider.events(*WEEK))


async def test_a_moved_event_increments_sequence(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    def sequences() -> dict[str, int]:
        out = {}
        for obj in raw_calendar.events():
            vevent = obj.icalendar_instance.walk("VEVENT")[0]
            out[str(vevent.get("X-ALMANAC-ID"))] = int(vevent.get("SEQUENCE", 0))
        return out

    await provider.apply(specs(), *WEEK)
    assert set(sequences().values()) == {0}
    moved = specs()
    moved[1] = EventSpec("t2", "Call NY", at(5, 11, tz=NEW_YORK), at(5, 12, tz=NEW_YORK))
    await provider.apply(moved, *WEEK)
    assert sequences()["t2"] == 1 and sequences()["t1"] == 0  # RFC 5545: new times, new SEQUENCE
    moved[1] = EventSpec("t2", "Call NY", at(5, 13, tz=NEW_YORK), at(5, 14, tz=NEW_YORK))
    await provider.apply(moved, *WEEK)
    assert sequences()["t2"] == 2


async def test_new_york_event_against_utc_windows(provider: CalDAVCalendar) -> None:
    ny = EventSpec("ny", "Standup", at(3, 9, tz=NEW_YORK), at(3, 9, 30, tz=NEW_YORK))
    await provider.apply([ny], *WEEK)
    # 09:00 EST is 14:00 UTC: a naive reading of the wall clock would put it at 09:00 UTC.
    assert [e.almanac_id for e in await provider.events(at(3, 13, 45), at(3, 14, 15))] == ["ny"]
    assert await provider.events(at(3, 9), at(3, 9, 30)) == []
    assert await provider.events(at(3, 14, 30), at(3, 15)) == []  # half-open: ends 14:30Z
    assert await provider.busy(at(3, 0), at(4, 0)) == [BusyInterval(at(3, 14), at(3, 14, 30))]


async def test_event_across_a_dst_change(provider: CalDAVCalendar) -> None:
    # Europe/Berlin jumps 02:00 -> 03:00 on 2026-03-29: 01:30-03:30 local is one real hour.
    dst = EventSpec("dst", "Night shift", at(29, 1, 30, tz=BERLIN), at(29, 3, 30, tz=BERLIN))
    window = (at(28, 0), at(31, 0))
    assert (await provider.apply([dst], *window)).created == ["dst"]
    [event] = await provider.events(*window)
    assert event.start == dst.start and event.end == dst.end
    assert event.start.utcoffset() == timedelta(hours=1)
    assert event.end.utcoffset() == timedelta(hours=2)
    assert await provider.busy(*window) == [BusyInterval(at(29, 0, 30), at(29, 1, 30))]
    assert (await provider.apply([dst], *window)).unchanged == ["dst"]


async def test_all_day_and_transparent_events(provider: CalDAVCalendar, raw_calendar: Any) -> None:
    user_event(raw_calendar, "holiday", ";VALUE=DATE:20260305", ";VALUE=DATE:20260306")
    user_event(
        raw_calendar, "free", ":20260306T100000Z", ":20260306T110000Z", "TRANSP:TRANSPARENT\r\n"
    )
    events = {e.uid: e for e in await provider.events(*WEEK)}
    assert events["holiday"].all_day and not events["free"].busy
    # The provider's zone is Europe/Berlin: the holiday is midnight to midnight there.
    assert await provider.busy(*WEEK) == [BusyInterval(at(4, 23), at(5, 23))]


async def test_recurring_user_event_is_expanded(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    user_event(
        raw_calendar,
        "gym",
        ":20260302T180000Z",
        ":20260302T190000Z",
        "RRULE:FREQ=DAILY;COUNT=3\r\n",
    )
    busy = await provider.busy(*WEEK)
    assert busy == [BusyInterval(at(d, 18), at(d, 19)) for d in (2, 3, 4)]


async def test_an_event_ending_before_it_starts_is_read_swapped_alone_or_recurring(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """RFC 5545: DTEND MUST follow DTSTART. A single such event read as zero-length (free
    time over the meeting) while a recurring one, through the expander, read swapped: both
    read swapped now (`base.event_span`), as the import and Google read them."""
    user_event(raw_calendar, "single", ":20260302T120000Z", ":20260302T100000Z")
    user_event(
        raw_calendar,
        "series",
        ":20260303T120000Z",
        ":20260303T100000Z",
        "RRULE:FREQ=DAILY;COUNT=2\r\n",
    )
    events = await provider.events(*WEEK)
    assert [(e.uid, e.start, e.end) for e in events] == [
        ("single", at(2, 10), at(2, 12)),
        ("series", at(3, 10), at(3, 12)),
        ("series", at(4, 10), at(4, 12)),
    ]
    assert await provider.busy(*WEEK) == [BusyInterval(at(d, 10), at(d, 12)) for d in (2, 3, 4)]


async def test_an_unknown_tzid_is_read_in_the_users_zone_and_said(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """The import refuses a TZID that is no zone (422); a CalDAV read must not fail for one
    event, and read it at its wall-clock time in the user's zone without a word. The event
    now carries a note naming it and the TZID, which the schedule's warnings and /health's
    calendar detail repeat."""
    user_event(
        raw_calendar,
        "mars",
        ";TZID=Mars/Olympus:20260302T100000",
        ";TZID=Mars/Olympus:20260302T110000",
    )
    user_event(
        raw_calendar,
        "fine",
        ";TZID=Europe/Berlin:20260303T100000",
        ";TZID=Europe/Berlin:20260303T110000",
    )
    mars, fine = await provider.events(*WEEK)
    assert mars.start == at(2, 10, tz=BERLIN) and mars.busy  # the provider's zone: Berlin
    assert "'mars'" in mars.note and "'Mars/Olympus'" in mars.note and "Europe/Berlin" in mars.note
    assert fine.note == ""
    when, said = LAST_NOTICE["calendar"]
    assert said == mars.note and when <= datetime.now(UTC)


async def test_calendar_found_by_display_name(dav_url: str, raw_calendar: Any) -> None:
    named = CalDAVCalendar(
        url=dav_url,
        calendar=raw_calendar.get_display_name(),
        username="almanac-test",
        password="secret",
    )
    await named.check()
    assert (await named.apply(specs()[:1], *WEEK)).created == ["t1"]
    await named.close()


async def test_server_down_is_calendar_unavailable() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = CalDAVCalendar(url=f"http://127.0.0.1:{port}/", calendar="Work", timeout=2)
    with pytest.raises(CalendarUnavailable, match="cannot reach") as exc:
        await down.check()
    assert exc.value.status_code == 503
    with pytest.raises(CalendarUnavailable):
        await down.events(*WEEK)
    with pytest.raises(CalendarUnavailable):
        await down.apply(specs(), *WEEK)


async def test_unknown_calendar_is_calendar_unavailable(radicale_url: str) -> None:
    missing = CalDAVCalendar(
        url=radicale_url, calendar="no-such-calendar", username="almanac-test", password="x"
    )
    with pytest.raises(CalendarUnavailable, match="no-such-calendar"):
        await missing.check()


async def test_wrong_calendar_url_is_calendar_unavailable(radicale_url: str) -> None:
    wrong = CalDAVCalendar(
        url=radicale_url,
        calendar=f"{radicale_url}almanac-test/does-not-exist/",
        username="almanac-test",
        password="x",
    )
    with pytest.raises(CalendarUnavailable):
        await wrong.check()


async def test_refused_login_is_calendar_unavailable(denying_radicale_url: str) -> None:
    denied = CalDAVCalendar(
        url=denying_radicale_url, calendar="Work", username="someone", password="wrong"
    )
    with pytest.raises(CalendarUnavailable, match="refused the credentials") as exc:
        await denied.check()
    assert exc.value.status_code == 503


async def test_almanac_uid_at_a_foreign_url_is_a_conflict(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    # An Almanac UID stored by some other client under another resource name, outside the
    # window: creating it again in the window must not make a second copy.
    stray = build_vcalendar(EventSpec("t3", "Old", at(20, 9), at(20, 10))).to_ical().decode()
    put = httpx.put(
        f"{raw_calendar.url}imported-123.ics",
        content=stray,
        headers={"Content-Type": "text/calendar"},
        auth=("almanac-test", "secret"),
        timeout=60,
    )
    assert put.status_code == 201
    with pytest.raises(CalendarConflict):
        await provider.apply(specs(), *WEEK)
    # Nothing was duplicated: the stray copy is the only event with that UID.
    holders = [
        str(e.url)
        for e in raw_calendar.search(event=True)
        if str(e.icalendar_component["UID"]) == event_uid("t3")
    ]
    assert holders == [f"{raw_calendar.url}imported-123.ics"]


class _Stored:
    """What `_occurrences` reads of a caldav object: its data."""

    def __init__(self, ical: str) -> None:
        self.data = ical
        self.etag = None
        self.url = None


def _series(uid: str, dtstart: str, rule: str) -> _Stored:
    return _Stored(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{dtstart}\r\n"
        f"DURATION:PT1S\r\nRRULE:{rule}\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_recurrence_expansion_of_a_caldav_read_is_bounded_naming_the_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server holding FREQ=SECONDLY from weeks back was expanded with no step budget
    (millions of steps in the worker thread, under the writer lock); now the read stops
    before expanding it, as the .ics import does, naming the event's UID."""
    from almanac.calendars.caldav import CALDAV_LIMITS
    from almanac.calendars.recurrence import RecurrenceBudget

    expanded = _count_expansions(monkeypatch)

    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
    start, end = WEEK
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    daily = _series("standup", "19900101T090000Z", "FREQ=DAILY")
    assert len(cal._occurrences(daily, start, end, budget)) >= 7
    # Every second matches, but BYMINUTE is not read as continuous (calendars/runs.py).
    every_minute = ",".join(str(m) for m in range(60))
    hostile = _series("spam", "20260201T000000Z", f"FREQ=SECONDLY;BYMINUTE={every_minute}")
    with pytest.raises(CalendarUnavailable, match="'spam': its RRULE would expand"):
        cal._occurrences(hostile, start, end, budget)
    assert expanded == ["standup"]  # refused before it is expanded (counted, not timed)
    many = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    minutes = _series("minutes", "20260302T000000Z", "FREQ=MINUTELY;BYSECOND=0,30")
    with pytest.raises(CalendarUnavailable, match="'minutes': more than 20000 events"):
        cal._occurrences(minutes, start, end, many)


def test_a_caldav_read_of_many_ordinary_long_series_is_not_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The step budget was shared by the whole read: 25 Outlook-style yearly events since
    1960 (FREQ=YEARLY;BYMONTH;BYMONTHDAY, about 24,000 steps each, milliseconds to expand)
    made the read CalendarUnavailable, so scheduling saw the calendar as down."""
    from almanac.calendars.caldav import CALDAV_LIMITS
    from almanac.calendars.recurrence import RecurrenceBudget

    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
    start, end = WEEK
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    expanded = _count_expansions(monkeypatch)
    found = 0
    for i in range(25):
        rule = "FREQ=YEARLY;BYMONTHDAY=4;BYMONTH=3"
        found += len(cal._occurrences(_series(f"bday{i}", "19600304", rule), start, end, budget))
        # Each series walks within the cap on its own (quick: counted, not timed).
        assert 0 < budget.steps <= CALDAV_LIMITS.max_rule_steps
    assert found == 25
    # Only the window's occurrences are expanded, one per series.
    assert len(expanded) == 25 and budget.occurrences == 25


def _count_expansions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The UIDs of the series a CalDAV read hands to the expander, in order."""
    from almanac.calendars import caldav_read as caldav_module

    expanded: list[str] = []
    expander = caldav_module.recurring_ical_events.of

    def of(component: Any, **options: Any) -> Any:
        expanded.extend(str(v.get("UID")) for v in component.walk("VEVENT"))
        return expander(component, **options)

    monkeypatch.setattr(caldav_module.recurring_ical_events, "of", of)
    return expanded


async def test_recurring_duration_is_exact_in_hours_and_nominal_in_days(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """RFC 5545 3.3.6 for each expanded occurrence: PT1H30M is 90 real minutes also on the
    night Berlin moves its clocks (2026-03-29, 02:00 -> 03:00), P1D is one calendar day."""

    def series(uid: str, start: str, duration: str) -> None:
        raw_calendar.add_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART;TZID=Europe/Berlin:{start}\r\nDURATION:{duration}\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Night shift\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )

    series("night", "20260322T013000", "PT1H30M")
    series("day", "20260321T120000", "P1D")
    events = await provider.events(at(20, 0), datetime(2026, 4, 8, tzinfo=UTC))
    night = [e for e in events if e.uid == "night"]
    day = [e for e in events if e.uid == "day"]

    def elapsed(e: Any) -> timedelta:  # aware arithmetic in one tzinfo is wall-clock: UTC
        result: timedelta = e.end.astimezone(UTC) - e.start.astimezone(UTC)
        return result

    assert [e.start.astimezone(BERLIN).hour for e in night] == [1, 1, 1]
    assert [elapsed(e) for e in night] == [timedelta(minutes=90)] * 3
    # 01:30 CET + 90 minutes is 04:00 CEST, not the wall-clock 03:00 CEST.
    assert night[1].end.astimezone(BERLIN).hour == 4
    assert [e.end.astimezone(BERLIN).hour for e in day] == [12, 12, 12]
    assert [elapsed(e) for e in day] == [timedelta(hours=h) for h in (24, 23, 24)]


async def test_an_invitation_the_user_declined_does_not_block(dav_url: str) -> None:
    """The user's own ATTENDEE line (their login is their address) says DECLINED: the
    server keeps the event, but its time is free; another attendee's decline is theirs."""
    me = "Ana@Example.com"
    client = DAVClient(url=dav_url, username=me, password="secret")
    raw = client.principal().make_calendar(name=f"test-{uuid.uuid4().hex[:12]}")

    def invitation(uid: str, day: int, mine: str, theirs: str, extra: str = "") -> None:
        attendees = (
            f"ATTENDEE;PARTSTAT={mine};CN=Ana:MAILTO:ana@example.COM\r\n"
            f"ATTENDEE;PARTSTAT={theirs}:mailto:client@example.com\r\n"
            "ORGANIZER:mailto:client@example.com\r\n"
        )
        user_event(
            raw, uid, f":202603{day:02}T100000Z", f":202603{day:02}T110000Z", attendees + extra
        )

    invitation("declined", 2, "DECLINED", "ACCEPTED")
    invitation("accepted", 3, "ACCEPTED", "DECLINED")
    invitation("series", 4, "DECLINED", "ACCEPTED", "RRULE:FREQ=DAILY;COUNT=2\r\n")
    cal = CalDAVCalendar(
        url=dav_url, calendar=str(raw.url), username=me, password="secret", timezone="UTC"
    )
    try:
        events = await cal.events(*WEEK)
        assert [(e.uid, e.start.day, e.busy) for e in events] == [
            ("declined", 2, False),
            ("accepted", 3, True),
            ("series", 4, False),
            ("series", 5, False),
        ]
        assert await cal.busy(*WEEK) == [BusyInterval(at(3, 10), at(3, 11))]
    finally:
        await cal.close()
        client.close()


_OFFICE_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Office\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def _mixed_zone_read(count: int) -> list[_Stored]:
    """`count` events a quarter hour apart, alternately in a zone the calendar defines
    (VTIMEZONE "Office", read by dateutil), in UTC and in New York: mixed on purpose."""
    stored = []
    for i in range(count):
        at_ = datetime(2026, 3, 2, 8, tzinfo=UTC) + timedelta(minutes=15 * ((i * 37) % count))
        if i % 3 == 0:
            local = at_ + timedelta(hours=1)  # Office is UTC+1 in early March
            start = f";TZID=Office:{local:%Y%m%dT%H%M%S}"
        elif i % 3 == 1:
            start = f":{at_:%Y%m%dT%H%M%SZ}"
        else:
            start = f";TZID=America/New_York:{at_.astimezone(NEW_YORK):%Y%m%dT%H%M%S}"
        stored.append(
            _Stored(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
                f"{_OFFICE_ZONE}BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTAMP:20260101T000000Z\r\n"
                f"DTSTART{start}\r\nDURATION:PT10M\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        )
    return stored


def test_a_caldav_read_sorts_mixed_zones_by_the_instant_asking_each_offset_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read sorted by the aware starts: each comparison across zones asked both offsets,
    a VTIMEZONE's (dateutil) walking its rules each time, about log2(n) times per event.
    Sorted by the UTC instant, the order is the same and the offsets asked grow with n."""
    from dateutil.tz.tz import _tzicalvtz

    asked = [0]
    utcoffset = _tzicalvtz.utcoffset

    def counted(self: Any, dt: datetime | None) -> timedelta | None:
        asked[0] += 1
        return utcoffset(self, dt)

    monkeypatch.setattr(_tzicalvtz, "utcoffset", counted)

    def read(count: int) -> tuple[list[Any], int]:
        cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
        found = _mixed_zone_read(count)
        stub = type("Stub", (), {"search": lambda self, **kw: found})()
        monkeypatch.setattr(cal, "_get_calendar", lambda: stub)
        asked[0] = 0
        return [event for _, event in cal._in_window(*WEEK)], asked[0]

    events, _ = read(300)
    old_key = sorted(events, key=lambda e: (e.start, e.uid))
    assert [e.uid for e in events] == [e.uid for e in old_key]
    instants = [e.start.astimezone(UTC) for e in events]
    assert instants == sorted(instants) and len(set(instants)) == len(events) == 300
    # Per Office event, what reading it costs (a read of three events, one in Office)...
    _, per_event = read(3)
    # ...then 100 of them: linear, not ~log2(300) more comparisons each.
    _, asked_300 = read(300)
    assert asked_300 <= 100 * per_event + 10, (asked_300, per_event)


def _custom_zone(offset: str) -> str:
    """A VTIMEZONE named as Outlook names every zone it writes itself."""
    return (
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n"
        f"BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\n"
        f"TZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )


async def test_each_event_is_read_in_its_own_definition_of_a_shared_tzid(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """Two stored events each define "Customized Time Zone", one at +01:00 and one at
    -05:00. icalendar keeps the first definition of a TZID for the whole process, so the
    second event was read at the first one's offset: six hours off, without a word."""
    for uid, offset, day in (("berlin", "+0100", "20260302"), ("new-york", "-0500", "20260303")):
        raw_calendar.add_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Outlook//EN\r\n"
            f"{_custom_zone(offset)}BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART;TZID=Customized Time Zone:{day}T100000\r\n"
            f"DTEND;TZID=Customized Time Zone:{day}T110000\r\nSUMMARY:Call\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    for _ in range(2):  # and again: a later read must not keep the earlier read's zone
        events = {e.uid: e for e in await provider.events(*WEEK)}
        assert events["berlin"].start == at(2, 9)
        assert events["new-york"].start == at(3, 15)
        assert events["new-york"].end == at(3, 16)


def _utc_by_the_files_own_zone(data: str) -> datetime:
    """DTSTART read as a client without the IANA database reads it: by the observances of
    the VTIMEZONE stored beside it (the latest onset at or before the wall time gives the
    offset). Parsed here by hand, apart from the code that wrote it."""
    lines: list[str] = []
    for raw in data.replace("\r\n", "\n").split("\n"):
        if raw.startswith((" ", "\t")) and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    onsets: list[tuple[datetime, timedelta]] = []
    block: list[str] | None = None
    wall: datetime | None = None
    for line in lines:
        if line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            block = []
        elif line in ("END:STANDARD", "END:DAYLIGHT") and block is not None:
            fields = [(ln.split(":", 1)[0].split(";")[0], ln.split(":", 1)[1]) for ln in block]
            to = next(v for k, v in fields if k == "TZOFFSETTO")
            sign = -1 if to[0] == "-" else 1
            offset = sign * timedelta(hours=int(to[1:3]), minutes=int(to[3:5]))
            for key, value in fields:
                if key in ("DTSTART", "RDATE"):
                    for one in value.split(","):
                        onsets.append((datetime.strptime(one, "%Y%m%dT%H%M%S"), offset))
            block = None
        elif block is not None:
            block.append(line)
        elif line.startswith("DTSTART;TZID="):
            wall = datetime.strptime(line.split(":", 1)[1], "%Y%m%dT%H%M%S")
    assert wall is not None
    offset = max((o for o in onsets if o[0] <= wall), key=lambda o: o[0])[1]
    return (wall - offset).replace(tzinfo=UTC)


async def test_the_stored_zone_gives_every_client_the_right_offset(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """The VTIMEZONE listed each year's change as one RDATE of many values, from 1970 to
    2038: Radicale kept only the first, so a client reading the zone from the file put a
    summer block an hour off (and one after 2038 was off on every server)."""
    cases = {
        "summer": datetime(2027, 7, 14, 9, tzinfo=BERLIN),
        "winter": datetime(2027, 12, 1, 9, tzinfo=BERLIN),
        "later": datetime(2041, 8, 6, 9, tzinfo=BERLIN),
    }
    for key, start in cases.items():
        spec = EventSpec(key, key, start, start + timedelta(hours=1))
        await provider.apply([spec], start - timedelta(days=1), start + timedelta(days=1))
    for obj in raw_calendar.events():
        vevent = obj.icalendar_instance.walk("VEVENT")[0]
        start = cases[str(vevent.get("X-ALMANAC-ID"))]
        assert _utc_by_the_files_own_zone(obj.data) == start.astimezone(UTC), obj.data
    # Moved two years on: the zone written first does not reach there; it is written anew.
    old, new = cases["winter"], datetime(2029, 7, 4, 9, tzinfo=BERLIN)
    spec = EventSpec("winter", "winter", new, new + timedelta(hours=1))
    await provider.apply(
        [spec], old - timedelta(days=1), new + timedelta(days=1), only=lambda aid: aid == "winter"
    )
    moved = raw_calendar.event_by_uid(event_uid("winter"))
    assert int(moved.icalendar_component["SEQUENCE"]) == 1  # an update, not a new event
    assert _utc_by_the_files_own_zone(moved.data) == new.astimezone(UTC), moved.data


async def test_a_dense_series_on_the_server_is_not_expanded_by_the_client_library(
    provider: CalDAVCalendar, raw_calendar: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """caldav's own search filtered a time-range answer by expanding every recurrence
    itself, before Almanac's budget and runs saw it: one FREQ=SECONDLY reminder in the
    user's calendar took 35 s and failed every agenda, schedule and move."""
    start, end = WEEK
    first = (start - timedelta(days=2)).strftime("%Y%m%dT%H%M%SZ")
    raw_calendar.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:spam\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{first}\r\n"
        "DURATION:PT1S\r\nRRULE:FREQ=MINUTELY\r\nSUMMARY:tick\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    expanded = _count_expansions(monkeypatch)
    events = await provider.events(start, end)
    # Read as the continuous busy stretch it is (calendars/runs.py), never expanded.
    assert "spam" not in expanded, expanded
    ticks = [e for e in events if e.uid == "spam"]
    assert len(ticks) == 1 and ticks[0].start <= start and ticks[0].end >= end, ticks


async def test_a_server_that_is_down_is_said_in_words() -> None:
    """The error quoted urllib3's objects: "NewConnectionError('<urllib3.connection.
    HTTPConnection object at 0x7f...>: Failed to establish a new connection: ...')"."""
    from tests.live_server import free_port

    url = f"http://127.0.0.1:{free_port()}/"
    cal = CalDAVCalendar(url=url, calendar="work", timezone="Europe/Berlin")
    try:
        with pytest.raises(CalendarUnavailable) as down:
            await cal.events(*WEEK)
    finally:
        await cal.close()
    message = str(down.value)
    assert message.startswith(f"cannot reach CalDAV server at {url.rstrip('/')}"), message
    assert message.endswith(": Connection refused"), message
    assert "object at 0x" not in message, message
