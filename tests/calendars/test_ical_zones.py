"""parse_own_zones reads each object's zoned times in that object's own VTIMEZONE, whatever
icalendar's process-wide cache holds and whatever other threads parse meanwhile."""

from __future__ import annotations

import threading
from datetime import timedelta

import icalendar

from almanac.calendars.ical_zones import parse_own_zones
from almanac.calendars.vevent import unknown_zones


def _object(uid: str, offset: str | None, day: str) -> str:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
        f"DTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
        if offset
        else ""
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//User//Outlook//EN\r\n{zone}"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART;TZID=Customized Time Zone:{day}T100000\r\n"
        f"DTEND;TZID=Customized Time Zone:{day}T110000\r\n"
        f"EXDATE;TZID=Customized Time Zone:{day}T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _offset(cal: icalendar.Calendar, name: str = "DTSTART") -> timedelta | None:
    value = cal.walk("VEVENT")[0][name]
    dt = value.dts[0].dt if hasattr(value, "dts") else value.dt
    return dt.utcoffset()  # type: ignore[no-any-return]


def test_each_object_reads_its_own_definition_while_other_threads_parse() -> None:
    """A lock around emptying the shared cache did not hold off caldav's own parses in other
    threads: 41 of 644 reads came back at the other object's offset."""
    new_york = _object("ny", "-0500", "20260303")
    stop = threading.Event()

    def others() -> None:  # as caldav's search parses each object it returns
        while not stop.is_set():
            icalendar.Calendar.from_ical(new_york)

    thread = threading.Thread(target=others)
    thread.start()
    try:
        offsets = {
            _offset(parse_own_zones(_object("berlin", "+0100", "20260302"))) for _ in range(300)
        }
        exdates = {
            _offset(parse_own_zones(_object("b", "+0100", "20260302")), "EXDATE") for _ in range(50)
        }
    finally:
        stop.set()
        thread.join()
    assert offsets == exdates == {timedelta(hours=1)}
    assert _offset(parse_own_zones(new_york)) == timedelta(hours=-5)


def test_a_tzid_the_object_does_not_define_is_unknown_not_another_objects() -> None:
    icalendar.Calendar.from_ical(_object("elsewhere", "-0500", "20260303"))  # now cached
    cal = parse_own_zones(_object("bare", None, "20260302"))
    assert _offset(cal) is None
    assert unknown_zones(cal.walk("VEVENT")[0])[0] == ("DTSTART", "Customized Time Zone")
