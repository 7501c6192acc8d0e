"""Calendar providers: read busy time, write Almanac's planned blocks (only its own events)."""

from __future__ import annotations

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
from almanac.calendars.caldav import CalDAVCalendar, build_vcalendar

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
