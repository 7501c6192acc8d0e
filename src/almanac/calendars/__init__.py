"""Calendar providers: read busy time, write Almanac's planned blocks (only its own events).

The CalDAV/iCalendar code (icalendar, recurring-ical-events) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarChanges,
    CalendarConflict,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    almanac_id_from_uid,
    event_uid,
    merge_intervals,
    plan_changes,
)

if TYPE_CHECKING:
    from almanac.calendars.caldav import CalDAVCalendar, build_vcalendar


def __getattr__(name: str) -> Any:
    if name in ("CalDAVCalendar", "build_vcalendar"):
        from almanac.calendars import caldav

        return getattr(caldav, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ApplyResult",
    "BusyInterval",
    "CalDAVCalendar",
    "CalendarConflict",
    "CalendarEvent",
    "CalendarProvider",
    "CalendarUnavailable",
    "EventSpec",
    "CalendarChanges",
    "almanac_id_from_uid",
    "build_vcalendar",
    "event_uid",
    "merge_intervals",
    "plan_changes",
]
