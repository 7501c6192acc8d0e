"""Single events of an .ics import are read without the recurrence expander, as it read them.

Most of a large export is single events; handing each to recurring-ical-events (a calendar,
a series and a copy per event) cost about a third of the parse (bench/ics_parse_bench.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from almanac.calendars import ics as ics_module
from almanac.calendars.base import zone_name
from almanac.calendars.ics import parse_ics

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
OWNER = frozenset({"me@example.org"})
# A zone only this file defines (as Outlook's "Customized Time Zone"), named for this test
# alone: icalendar keeps each VTIMEZONE by TZID for the whole process.
CUSTOM = "Almanac single-event test zone"
ZONE = f"""BEGIN:VTIMEZONE\r
TZID:{CUSTOM}\r
BEGIN:STANDARD\r
TZOFFSETFROM:-0300\r
TZOFFSETTO:-0300\r
DTSTART:19700101T000000\r
END:STANDARD\r
END:VTIMEZONE\r
"""

# One of each shape a single event takes, and a few the expander must still read.
EVENTS = [
    "UID:utc\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nSUMMARY:UTC",
    "UID:zoned\r\nDTSTART;TZID=Europe/Berlin:20260303T090000\r\n"
    "DTEND;TZID=Europe/Berlin:20260303T100000\r\nSUMMARY:Berlin",
    f"UID:custom\r\nDTSTART;TZID={CUSTOM}:20260303T120000\r\n"
    f"DTEND;TZID={CUSTOM}:20260303T130000\r\nSUMMARY:Own zone",
    "UID:two-zones\r\nDTSTART;TZID=Europe/Berlin:20260304T090000\r\n"
    "DTEND;TZID=America/New_York:20260304T090000\r\nSUMMARY:Two zones",
    "UID:floating\r\nDTSTART:20260304T140000\r\nDTEND:20260304T150000\r\nSUMMARY:Floating",
    "UID:day\r\nDTSTART;VALUE=DATE:20260305\r\nDTEND;VALUE=DATE:20260307\r\nSUMMARY:Days",
    "UID:same-day\r\nDTSTART;VALUE=DATE:20260306\r\nDTEND;VALUE=DATE:20260306\r\nSUMMARY:Same",
    "UID:day-no-end\r\nDTSTART;VALUE=DATE:20260308\r\nSUMMARY:One day",
    "UID:instant\r\nDTSTART:20260302T120000Z\r\nSUMMARY:Instant",
    "UID:backwards\r\nDTSTART:20260305T110000Z\r\nDTEND:20260305T100000Z\r\nSUMMARY:Swapped",
    "UID:free\r\nDTSTART:20260305T130000Z\r\nDTEND:20260305T140000Z\r\nTRANSP:TRANSPARENT",
    "UID:cancelled\r\nDTSTART:20260305T150000Z\r\nDTEND:20260305T160000Z\r\nSTATUS:CANCELLED",
    "UID:declined\r\nDTSTART:20260306T090000Z\r\nDTEND:20260306T100000Z\r\n"
    "ATTENDEE;PARTSTAT=DECLINED:mailto:Me@Example.org\r\nSUMMARY:Declined",
    "UID:edge\r\nDTSTART:20260301T230000Z\r\nDTEND:20260302T003000Z\r\nSUMMARY:Across the start",
    "UID:outside\r\nDTSTART:20260309T000000Z\r\nDTEND:20260309T010000Z\r\nSUMMARY:After",
    "UID:nul\r\nDTSTART:20260307T090000Z\r\nDTEND:20260307T100000Z\r\nSUMMARY:a\x00b\r\n"
    "DESCRIPTION:c\x00d",
    f"UID:{'x' * 600}\r\nDTSTART:20260307T110000Z\r\nDTEND:20260307T120000Z\r\nSUMMARY:Long",
    # Left to the expander: no UID, a DURATION, a DATE start with a DATE-TIME end, a series.
    "DTSTART:20260302T150000Z\r\nDTEND:20260302T160000Z\r\nSUMMARY:No UID",
    "UID:duration\r\nDTSTART;TZID=Europe/Berlin:20260307T140000\r\nDURATION:PT90M",
    "UID:mixed\r\nDTSTART;VALUE=DATE:20260303\r\nDTEND:20260303T120000Z\r\nSUMMARY:Mixed",
    "UID:weekly\r\nDTSTART:20260302T080000Z\r\nDTEND:20260302T083000Z\r\nRRULE:FREQ=DAILY;COUNT=3",
]


def vcalendar() -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e}\r\nEND:VEVENT\r\n" for e in EVENTS)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{ZONE}{body}END:VCALENDAR\r\n"


def expanded_uids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The UIDs of the VEVENTs each parse hands to recurring-ical-events, as it does."""
    seen: list[str] = []
    expander = ics_module.recurring_ical_events.of

    def of(component: Any) -> Any:
        seen.extend(str(v.get("UID", "")) for v in component.walk("VEVENT"))
        return expander(component)

    monkeypatch.setattr(ics_module.recurring_ical_events, "of", of)
    return seen


def read() -> Any:
    return parse_ics(vcalendar(), window=WEEK, zone=BERLIN, owner=OWNER)


def test_single_events_skip_the_expander_and_read_as_it_read_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = expanded_uids(monkeypatch)
    direct = read()
    assert sorted(seen) == ["", "duration", "mixed", "weekly"]
    # Every VEVENT through the expander, as before: the same events, zones and order.
    seen.clear()
    monkeypatch.setattr(ics_module, "_plain", lambda vevents: False)
    expanded = read()
    assert len(seen) == len(EVENTS)
    assert direct == expanded
    assert [zone_name(e.start) for e in direct.events] == [
        zone_name(e.start) for e in expanded.events
    ]
    titles = {e.uid: e for e in direct.events}
    # What the comparison rests on: the shapes were read, not all dropped alike.
    assert {"utc", "custom", "day", "backwards", "declined", "edge", "nul"} <= set(titles)
    assert "outside" not in titles
    assert not titles["declined"].busy and titles["zoned"].busy
    assert titles["custom"].start == datetime(2026, 3, 3, 15, tzinfo=UTC)
    assert titles["backwards"].start < titles["backwards"].end


def test_a_large_file_is_refused_naming_the_bound_per_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file of many single events (none past any bound alone) counts toward the file's
    occurrence bound as the expander's occurrences did."""
    from almanac.calendars.ics_limits import IcsLimits
    from almanac.errors import ValidationFailed

    seen = expanded_uids(monkeypatch)
    singles = [
        f"UID:s{i}\r\nDTSTART:202603{2 + i % 7:02d}T{i % 24:02d}0000Z\r\nSUMMARY:s"
        for i in range(40)
    ]
    text = "".join(f"BEGIN:VEVENT\r\n{e}\r\nEND:VEVENT\r\n" for e in singles)
    data = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{text}END:VCALENDAR\r\n"
    assert len(parse_ics(data, window=WEEK, zone=BERLIN, limits=IcsLimits(40)).events) == 40
    with pytest.raises(ValidationFailed, match=r"^the file has more than 39 events"):
        parse_ics(data, window=WEEK, zone=BERLIN, limits=IcsLimits(39))
    assert seen == []
