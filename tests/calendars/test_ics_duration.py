"""DURATION in imported .ics files: hours/minutes/seconds are exact, days and weeks nominal
(RFC 5545 3.3.6), for single events and for each expanded occurrence of a series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from almanac.calendars.ics import parse_ics

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# (zone, the night of the change: the evening before it, at 22:00 local)
NIGHTS = [
    pytest.param(BERLIN, datetime(2026, 3, 28, 22), id="berlin-spring"),
    pytest.param(BERLIN, datetime(2026, 10, 24, 22), id="berlin-autumn"),
    pytest.param(NEW_YORK, datetime(2026, 3, 7, 22), id="newyork-spring"),
    pytest.param(NEW_YORK, datetime(2026, 10, 31, 22), id="newyork-autumn"),
]


def vcalendar(*vevents: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{v.strip()}\r\nEND:VEVENT\r\n" for v in vevents)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Client//EN\r\n{body}END:VCALENDAR\r\n"
    )


def parse(text: str, around: datetime, zone: ZoneInfo) -> Any:
    moment = around.replace(tzinfo=zone)
    return parse_ics(
        text, window=(moment - timedelta(days=3), moment + timedelta(days=3)), zone=zone
    )


def elapsed(event: Any) -> timedelta:
    result: timedelta = event.end.astimezone(UTC) - event.start.astimezone(UTC)
    return result


def local(value: datetime, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%Y%m%dT%H%M%S}"


@pytest.mark.parametrize(("zone", "night"), NIGHTS)
def test_hours_of_a_single_event_are_real_hours_across_a_dst_change(
    zone: ZoneInfo, night: datetime
) -> None:
    text = vcalendar(f"UID:shift\nDTSTART;TZID={zone.key}:{night:%Y%m%dT%H%M%S}\nDURATION:PT12H")
    [event] = parse(text, night, zone).events
    assert event.start == night.replace(tzinfo=zone)
    assert elapsed(event) == timedelta(hours=12)


@pytest.mark.parametrize(("zone", "night"), NIGHTS)
def test_hours_of_each_occurrence_are_real_hours_across_a_dst_change(
    zone: ZoneInfo, night: datetime
) -> None:
    first = night - timedelta(days=2)
    text = vcalendar(
        f"UID:shifts\nDTSTART;TZID={zone.key}:{first:%Y%m%dT%H%M%S}\nDURATION:PT12H\n"
        "RRULE:FREQ=DAILY;COUNT=5"
    )
    events = parse(text, night, zone).events
    assert [local(e.start, zone)[9:] for e in events] == ["220000"] * 5
    assert [elapsed(e) for e in events] == [timedelta(hours=12)] * 5
    crossing = next(e for e in events if e.start == night.replace(tzinfo=zone))
    # The change itself moves the end's wall-clock time by the hour gained or lost.
    assert local(crossing.end, zone)[9:] in {"090000", "110000"}


def test_an_override_reads_its_own_duration_and_a_period_keeps_its_end() -> None:
    night = datetime(2026, 3, 28, 22)
    text = vcalendar(
        "UID:s\nDTSTART;TZID=Europe/Berlin:20260326T220000\nDURATION:PT12H\n"
        "RRULE:FREQ=DAILY;COUNT=3",
        "UID:p\nDTSTART;TZID=Europe/Berlin:20260326T210000\nDURATION:PT12H\n"
        "RDATE;VALUE=PERIOD;TZID=Europe/Berlin:20260328T210000/20260329T090000",
        "UID:s\nRECURRENCE-ID;TZID=Europe/Berlin:20260328T220000\n"
        "DTSTART;TZID=Europe/Berlin:20260328T230000\nDURATION:PT4H",
    )
    ends = {
        (e.uid[0], local(e.start, BERLIN)): elapsed(e) for e in parse(text, night, BERLIN).events
    }
    assert ends == {
        ("p", "20260326T210000"): timedelta(hours=12),
        ("s", "20260326T220000"): timedelta(hours=12),
        ("s", "20260327T220000"): timedelta(hours=12),
        ("s", "20260328T230000"): timedelta(hours=4),
        # The period's end is a time, not a duration (though it reads as 12 wall hours).
        ("p", "20260328T210000"): timedelta(hours=11),
    }


def test_days_are_nominal_and_dtend_is_unchanged() -> None:
    night = datetime(2026, 3, 28, 22)
    text = vcalendar(
        "UID:day\nDTSTART;TZID=Europe/Berlin:20260328T100000\nDURATION:P1DT1H",
        "UID:end\nDTSTART;TZID=Europe/Berlin:20260328T220000\n"
        "DTEND;TZID=Europe/Berlin:20260329T100000",
    )
    events = {e.uid: e for e in parse(text, night, BERLIN).events}
    # A day on is 10:00 again (23 real hours on this date), then one real hour.
    assert local(events["day"].end, BERLIN) == "20260329T110000"
    assert local(events["end"].end, BERLIN) == "20260329T100000"


def test_a_floating_event_in_the_dst_gap_keeps_its_length() -> None:
    night = datetime(2026, 3, 29, 2, 30)
    for text in (
        vcalendar("UID:gap\nDTSTART:20260329T023000\nDURATION:PT1H"),
        vcalendar("UID:gap\nDTSTART:20260327T023000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3"),
    ):
        events = parse(text, night, BERLIN).events
        assert events
        assert [elapsed(e) for e in events] == [timedelta(hours=1)] * len(events)


def test_an_event_longer_than_a_year_is_kept_within_the_window_with_a_note():
    """A broken invitation's DURATION:P99999W ended in the year 3943, then at 2200 (the
    bound every calendar entry keeps), busy all the while and with no word in the answer:
    now kept within the import's window, and the answer's notes name it."""
    text = vcalendar("UID:long\r\nSUMMARY:Long\r\nDTSTART:20260310T100000Z\r\nDURATION:P99999W")
    around = datetime(2026, 3, 10, 9)
    parsed = parse(text, around, BERLIN)
    [event] = parsed.events
    assert event.start == datetime(2026, 3, 10, 10, tzinfo=UTC)
    assert event.end == around.replace(tzinfo=BERLIN) + timedelta(days=3)  # the window's end
    [note] = parsed.notes
    assert note.startswith("event 'long' ('Long') lasts ") and "2200-12-31" in note, note


@pytest.mark.parametrize(
    ("span", "clipped"),
    [
        ("DTSTART;VALUE=DATE:20200101\r\nDTEND;VALUE=DATE:20300101", True),  # a decade
        ("DTSTART:20250310T100000Z\r\nDURATION:P367D", True),  # a year and a day
        ("DTSTART:20250312T100000Z\r\nDURATION:P366D", False),  # a year: kept whole
        ("DTSTART:20260301T100000Z\r\nDURATION:P30D", False),  # a month past the window
    ],
)
def test_only_events_over_a_year_are_clipped(span: str, clipped: bool) -> None:
    text = vcalendar(f"UID:e\r\nSUMMARY:E\r\n{span}")
    around = datetime(2026, 3, 10, 9)
    parsed = parse(text, around, BERLIN)
    [event] = parsed.events
    window = (around - timedelta(days=3), around + timedelta(days=3))
    inside = [w.replace(tzinfo=BERLIN) for w in window]
    if event.all_day:  # whole days: from the window's first midnight to its last day's end
        inside = [inside[0].replace(hour=0), inside[1].replace(hour=0) + timedelta(days=1)]
    held = inside[0] <= event.start and event.end <= inside[1]
    assert held == clipped and len(parsed.notes) == int(clipped), (event, parsed.notes)
    if clipped:  # cut where the window cuts it, not shortened further
        assert event.start == inside[0] or event.end == inside[1], event
