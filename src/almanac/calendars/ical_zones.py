"""Parse an iCalendar object in its own time zone definitions.

icalendar keeps each VTIMEZONE it parses by TZID for the whole process, the first
definition winning, and every thread shares it (caldav's own search parses each object
too). Outlook names every zone it writes "Customized Time Zone", so a calendar's second such
event was read at the first one's offset, and a TZID an object never defines passed as
known. After parsing, each zoned time is given the zone its own object defines; emptying
the shared cache instead raced with the other threads' parses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from icalendar.timezone import tzp

from almanac.calendars.vevent import DATED


def parse_own_zones(
    data: str | bytes, check: Callable[[icalendar.Component], None] | None = None
) -> icalendar.Calendar:
    """One object's VCALENDAR, its TZIDs read in the VTIMEZONEs it defines (or the IANA zone
    of that name); a TZID it neither defines nor names as an IANA zone reads as floating,
    which `vevent.unknown_zones` reports, never as another object's definition. `check`
    sees each VTIMEZONE before it is built (its rules are walked then)."""
    cal = icalendar.Calendar.from_ical(data)
    own: dict[str, tzinfo] = {}
    for vtimezone in cal.walk("VTIMEZONE"):
        if check is not None:
            check(vtimezone)
        tzid = tzp.clean_timezone_id(str(vtimezone.get("TZID", "")))
        if tzid and tzid not in own and isinstance(vtimezone, icalendar.Timezone):
            own[tzid] = vtimezone.to_tz(tzp, lookup_tzid=False)
    for component in cal.walk():
        for name in DATED:
            prop = component.get(name)
            for value in prop if isinstance(prop, list) else [prop]:
                _own_zone(value, own)
    return cal


def _own_zone(value: Any, own: dict[str, tzinfo]) -> None:
    tzid = getattr(value, "params", {}).get("TZID")
    if not tzid:
        return
    zone = own.get(tzp.clean_timezone_id(str(tzid)))
    for one in value.dts if hasattr(value, "dts") else [value]:
        dt = one.dt
        if not isinstance(dt, datetime) or isinstance(dt.tzinfo, ZoneInfo | timezone):
            continue  # a date, or an IANA (or Windows) name the provider knows, or UTC
        if zone is not None:
            one.dt = dt.replace(tzinfo=zone)
        elif dt.tzinfo is not None:  # another object's definition, from the shared cache
            one.dt = dt.replace(tzinfo=None)
