"""Parse an iCalendar object in its own time zone definitions.

icalendar keeps each VTIMEZONE it parses by TZID for the whole process, the first
definition winning. Outlook names every zone it writes "Customized Time Zone", so a
calendar's second such event was read at the first one's offset, and a TZID an object
never defines passed as known. Each object is parsed with that cache emptied first,
under a lock, as reads run in worker threads.
"""

from __future__ import annotations

import threading

import icalendar
from icalendar.timezone import tzp

_LOCK = threading.Lock()


def parse_own_zones(data: str | bytes) -> icalendar.Calendar:
    """One object's VCALENDAR, its TZIDs read in the VTIMEZONEs it defines (or the IANA zone
    of that name), never in a definition an earlier object left in icalendar's cache."""
    with _LOCK:
        tzp.use_zoneinfo()  # a fresh cache: the provider is the same as by default
        return icalendar.Calendar.from_ical(data)
