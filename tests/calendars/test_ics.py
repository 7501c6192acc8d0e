"""Rendering the built-in calendar as iCalendar, and reading .ics files for import."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import EventSpec, event_uid, zone_name
from almanac.calendars.builtin import BuiltinCalendar
from almanac.calendars.ics import parse_ics, render_calendar
from almanac.calendars.ics_limits import MAX_ICS_BYTES, MAX_IMPORT_EVENTS
from almanac.calendars.repository import CalendarEntryRepository
from almanac.calendars.schemas import EventIn, OptionalWindow
from almanac.calendars.service import CalendarService
from almanac.errors import ValidationFailed

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0, tz: Any = UTC) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=tz)


def vcalendar(*vevents: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{v.strip()}\r\nEND:VEVENT\r\n" for v in vevents)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n{body}END:VCALENDAR\r\n"
    )


def parse(text: str, window: tuple[datetime, datetime] = WEEK) -> Any:
    return parse_ics(text, window=window, zone=BERLIN)


async def feed_entries(session: AsyncSession) -> list[Any]:
    cal = BuiltinCalendar(session)
    await cal.apply(
        [
            EventSpec("t1", "Write report", at(2, 9, tz=BERLIN), at(2, 10, tz=BERLIN), "draft"),
            EventSpec("t2", "Review", at(3, 13), at(3, 14)),
        ],
        *WEEK,
    )
    # Changed once, so its SEQUENCE is 1.
    await cal.apply(
        [
            EventSpec("t1", "Write report", at(2, 9, tz=BERLIN), at(2, 10, tz=BERLIN), "draft"),
            EventSpec("t2", "Review (moved)", at(3, 15), at(3, 16)),
        ],
        *WEEK,
    )
    service = CalendarService(session, timezone="Europe/Berlin")
    await service.create_event(
        EventIn(title="Lunch", start=at(4, 12), end=at(4, 13), busy=False, idempotency_key="lunch")
    )
    await service.import_ics(
        vcalendar(
            "UID:trip\r\nDTSTART;VALUE=DATE:20260305\r\nDTEND;VALUE=DATE:20260307\r\nSUMMARY:Trip"
        ),
        OptionalWindow(start=WEEK[0], end=WEEK[1]),
    )
    return await CalendarEntryRepository(session).in_window(*WEEK)


async def test_feed_parses_back_with_our_uids_and_properties(db_session: AsyncSession):
    entries = await feed_entries(db_session)
    cal = icalendar.Calendar.from_ical(render_calendar(entries))
    assert str(cal["PRODID"]) and str(cal["VERSION"]) == "2.0"
    vevents = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    assert set(vevents) == {event_uid("t1"), event_uid("t2"), "lunch", "trip"}

    t1 = vevents[event_uid("t1")]
    assert str(t1["X-ALMANAC-ID"]) == "t1" and str(t1["SUMMARY"]) == "Write report"
    assert str(t1["DESCRIPTION"]) == "draft"
    assert t1["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert t1.decoded("DTSTART") == at(2, 9, tz=BERLIN)
    assert t1.decoded("DTEND") == at(2, 10, tz=BERLIN)
    assert int(t1["SEQUENCE"]) == 0 and isinstance(t1.decoded("DTSTAMP"), datetime)
    assert "TRANSP" not in t1
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]

    t2 = vevents[event_uid("t2")]
    assert int(t2["SEQUENCE"]) == 1 and str(t2["SUMMARY"]) == "Review (moved)"
    assert t2["DTSTART"].to_ical() == b"20260303T150000Z"  # UTC is written as ...Z, no TZID

    lunch = vevents["lunch"]
    assert str(lunch["TRANSP"]) == "TRANSPARENT" and "X-ALMANAC-ID" not in lunch
    trip = vevents["trip"]
    assert trip.decoded("DTSTART") == date(2026, 3, 5) and trip.decoded("DTEND") == date(2026, 3, 7)


async def test_feed_reads_back_as_the_same_events(db_session: AsyncSession):
    entries = await feed_entries(db_session)
    events = await BuiltinCalendar(db_session).events(*WEEK)
    parsed = parse(render_calendar(entries).decode()).events
    key = lambda e: (e.uid, e.title, e.start, e.end, e.busy, e.all_day, e.almanac_id)  # noqa: E731
    assert sorted(map(key, parsed)) == sorted(map(key, events))


def test_parse_reads_zones_floating_times_and_all_day_events():
    text = vcalendar(
        "UID:a\r\nDTSTART;TZID=America/New_York:20260302T090000\r\n"
        "DTEND;TZID=America/New_York:20260302T100000\r\nSUMMARY:NY call",
        "UID:b\r\nDTSTART:20260303T120000\r\nDURATION:PT30M\r\nSUMMARY:Floating",
        "UID:c\r\nDTSTART;VALUE=DATE:20260329\r\nSUMMARY:DST day",
        "UID:d\r\nDTSTART:20260304T080000Z\r\nDTEND:20260304T090000Z\r\nTRANSP:TRANSPARENT\r\nSUMMARY:Free",
        "UID:e\r\nDTSTART:20260304T100000Z\r\nDTEND:20260304T110000Z\r\nSTATUS:CANCELLED\r\nSUMMARY:Off",
    )
    window = (WEEK[0], WEEK[0] + timedelta(days=30))
    events = {e.uid: e for e in parse(text, window).events}
    assert set(events) == {"a", "b", "c", "d", "e"}
    assert zone_name(events["a"].start) == "America/New_York"
    assert events["a"].start == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert events["b"].start == at(3, 12, tz=BERLIN) and events["b"].end == at(3, 12, 30, tz=BERLIN)
    c = events["c"]
    # Europe/Berlin springs forward on 29 March: the whole day is 23 hours long.
    # (Same-zone subtraction in Python is wall-clock time, so measure in UTC.)
    assert c.all_day and c.start == at(29, 0, tz=BERLIN) and c.end == at(30, 0, tz=BERLIN)
    assert c.end.astimezone(UTC) - c.start.astimezone(UTC) == timedelta(hours=23)
    assert not events["d"].busy and not events["e"].busy and events["a"].busy
    assert all(e.almanac_id is None for e in events.values())


def test_parse_expands_recurring_events_within_the_window_only():
    text = vcalendar(
        "UID:standup\r\nDTSTART:20260301T080000Z\r\nDTEND:20260301T081500Z\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Standup",
        "UID:old\r\nDTSTART:20250101T080000Z\r\nDTEND:20250101T090000Z\r\nSUMMARY:Long ago",
    )
    events = parse(text).events
    assert [e.start for e in events] == [at(d, 8) for d in range(2, 9)]
    assert [e.uid for e in events] == [f"standup#202603{d:02d}T080000Z" for d in range(2, 9)]
    assert [e.uid for e in parse(text).events] == [e.uid for e in events]  # stable


def test_parse_marks_almanac_blocks_and_derives_missing_uids():
    spec = EventSpec("t9", "Ours", at(2, 9), at(2, 10))
    ours = (
        f"UID:{spec.uid}\r\nX-ALMANAC-ID:t9\r\n"
        "DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nSUMMARY:Ours"
    )
    anonymous = "DTSTART:20260303T090000Z\r\nDTEND:20260303T100000Z\r\nSUMMARY:No UID"
    first = {e.title: e for e in parse(vcalendar(ours, anonymous)).events}
    assert first["Ours"].almanac_id == "t9"
    assert first["No UID"].uid.startswith("import-") and first["No UID"].almanac_id is None
    again = {e.title: e for e in parse(vcalendar(ours, anonymous)).events}
    assert again["No UID"].uid == first["No UID"].uid


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("this is not a calendar", "not a valid iCalendar"),
        ("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "no VCALENDAR"),
        ("x" * (MAX_ICS_BYTES + 1), "larger than"),
        (
            vcalendar(  # BYSECOND: not read as continuous (calendars/runs.py)
                "UID:m\r\nDTSTART:20260302T000000Z\r\nRRULE:FREQ=MINUTELY;BYSECOND=0,30"
            ),
            f"more than {MAX_IMPORT_EVENTS} events",
        ),
    ],
)
def test_bad_files_are_validation_errors_naming_the_body(text: str, message: str):
    with pytest.raises(ValidationFailed, match=message) as info:
        parse(text)
    assert info.value.errors[0]["field"] == "body"


def _control_characters(line: str) -> list[str]:
    """RFC 5545 CONTROL (3.1): U+0000-U+001F but tab, and U+007F."""
    return [c for c in line if (ord(c) < 0x20 and c != "\t") or c == "\x7f"]


async def test_the_feed_holds_no_control_characters(db_session: AsyncSession):
    """A title "Call<BEL> with<ESC>client" went into the feed as it was: RFC 5545 forbids
    CONTROL characters in TEXT values, and strict calendar apps refused the whole file."""
    title, notes = "Call\x07 with\x1bclient", "agenda\x1b\x7f\r\nsecond line\tindented"
    await BuiltinCalendar(db_session).apply(
        [EventSpec("c1", title, at(2, 9), at(2, 10), notes)], *WEEK
    )
    service = CalendarService(db_session, timezone="Europe/Berlin")
    await service.create_event(
        EventIn(title=title, start=at(3, 9), end=at(3, 10), description=notes, idempotency_key="u")
    )
    body = render_calendar(await CalendarEntryRepository(db_session).in_window(*WEEK)).decode()
    lines = body.split("\r\n")
    assert lines[-1] == "" and all(not _control_characters(line) for line in lines), body
    vevents = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert len(vevents) == 2
    for vevent in vevents:
        assert str(vevent["SUMMARY"]) == "Call  with client"
        assert str(vevent["DESCRIPTION"]) == "agenda \nsecond line\tindented"


def test_a_spec_is_cleaned_for_every_provider_once():
    """Cleaned in `EventSpec`, so CalDAV's iCalendar, Google's JSON and the built-in rows get
    the same text, and the next `apply` reads back what it asked for (no rewrite each run)."""
    spec = EventSpec("c1", "Call\x07 with\x1bclient", at(2, 9), at(2, 10), "a\r\nb\rc\x00")
    assert (spec.title, spec.description) == ("Call  with client", "a\nb\nc ")
    assert EventSpec("c1", spec.title, at(2, 9), at(2, 10), spec.description) == spec


def test_c1_control_characters_are_cleaned_like_the_c0_ones():
    """U+0080-U+009F are control characters too (Unicode Cc): a NEL or a CSI from a
    mis-decoded Windows-1252 paste went into the feed and CalDAV as it was."""
    spec = EventSpec("c1", "Call\x85with\x9b\x80client", at(2, 9), at(2, 10), "a\x9f\r\n\tb")
    assert (spec.title, spec.description) == ("Call with client", "a \n\tb")
    # Printable Latin-1 right after the range is text.
    assert EventSpec("c2", "Caf\xe9 \xa0", at(2, 9), at(2, 10)).title == "Caf\xe9 \xa0"


def test_an_event_that_ends_before_it_starts_is_read_swapped_however_it_says_so():
    """RFC 5545: DTEND MUST follow DTSTART. A DTEND before it (expanded by the recurrence
    library, which swaps) and a negative DURATION (read by `after`, which made it
    zero-length: free time over the meeting) are read the same way, `event_span`'s."""
    events = parse(
        vcalendar(
            "UID:dtend\r\nDTSTART:20260302T120000Z\r\nDTEND:20260302T100000Z",
            "UID:duration\r\nDTSTART:20260303T120000Z\r\nDURATION:-PT2H",
            "UID:days\r\nDTSTART;VALUE=DATE:20260306\r\nDTEND;VALUE=DATE:20260305",
        )
    ).events
    assert [(e.uid, e.start, e.end) for e in events] == [
        ("dtend", at(2, 10), at(2, 12)),
        ("duration", at(3, 10), at(3, 12)),
        ("days", at(5, 0, tz=BERLIN), at(6, 0, tz=BERLIN)),
    ]
    assert all(e.busy for e in events)


def test_an_all_day_event_ending_on_its_start_date_is_that_day():
    """Some exports write DTEND = DTSTART for a one-day holiday (invalid in RFC 5545): read
    as zero-length it blocked nothing, though calendar apps, and the feed, show the day."""
    events = parse(
        vcalendar(
            "UID:same\r\nDTSTART;VALUE=DATE:20260303\r\nDTEND;VALUE=DATE:20260303",
            "UID:none\r\nDTSTART;VALUE=DATE:20260305",
            "UID:zero\r\nDTSTART;VALUE=DATE:20260306\r\nDURATION:P0D",
        )
    ).events
    assert [(e.uid, e.start, e.end, e.all_day) for e in events] == [
        (uid, at(day, 0, tz=BERLIN), at(day + 1, 0, tz=BERLIN), True)
        for uid, day in (("same", 3), ("none", 5), ("zero", 6))
    ]


def test_a_recurring_event_keeps_its_exact_length_on_the_nights_the_clocks_change() -> None:
    """RFC 5545 3.8.5.3: DTEND's length applies exactly to every occurrence. The expander
    added it on the wall clock: New York's 02:30-03:30 on 14 March 2027 (clocks forward at
    02:00) was zero minutes long, and Sydney's on 4 April 2027 (clocks back) two hours."""
    from zoneinfo import ZoneInfo

    cases = (
        ("America/New_York", "20270312T023000", "20270312T033000", datetime(2027, 3, 14)),
        ("Australia/Sydney", "20270402T023000", "20270402T033000", datetime(2027, 4, 4)),
    )
    for tzid, start, end, day in cases:
        text = vcalendar(
            f"UID:nightly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID={tzid}:{start}\r\n"
            f"DTEND;TZID={tzid}:{end}\r\nRRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:Backup"
        )
        zone = ZoneInfo(tzid)
        window = (datetime(2027, 3, 10, tzinfo=UTC), datetime(2027, 4, 10, tzinfo=UTC))
        events = parse(text, window).events
        assert len(events) == 5, events
        # In real time (a difference of two times in one zone is Python's wall-clock one).
        lengths = {e.end.astimezone(UTC) - e.start.astimezone(UTC) for e in events}
        assert lengths == {timedelta(hours=1)}, [
            (e.start.astimezone(zone), e.end.astimezone(zone)) for e in events
        ]
        assert any(e.start.astimezone(zone).date() == day.date() for e in events)


def test_an_imported_event_holds_no_more_text_than_one_added_through_the_api() -> None:
    """A 1.9-million-character DESCRIPTION was stored whole (the API takes 20,000) and
    re-sent in every poll of the feed."""
    text = vcalendar(
        "UID:huge\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260303T090000Z\r\n"
        f"DTEND:20260303T100000Z\r\nSUMMARY:{'S' * 2000}\r\nDESCRIPTION:{'d' * 300_000}"
    )
    (event,) = parse(text).events
    assert len(event.title) == 500 and event.title.endswith("…")
    assert len(event.description) == 20_000 and event.description.endswith("…")
