"""Bounds on an .ics import and the shape of its result, apart from the parser: endpoints
(and the server unpickling what the parsing process sends back) load no iCalendar code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from almanac.calendars.base import CalendarEvent

MAX_ICS_BYTES = 2 * 1024 * 1024
# Occurrences an import may visit: an every-minute RRULE must not fill the table.
MAX_IMPORT_EVENTS = 5000
# An event longer than this is no meeting nor absence but a broken DTEND or DURATION (a
# P99999W invitation was busy until 2200): it is kept within the import's window only.
LONGEST_EVENT = timedelta(days=366)


@dataclass(frozen=True)
class IcsLimits:
    """Bounds on one import's work (CalendarSettings sets them)."""

    max_occurrences: int = MAX_IMPORT_EVENTS
    # Recurrence steps the expander may walk for one series (a UID's rules), from DTSTART to
    # the window's end; the time budget bounds the whole file.
    max_rule_steps: int = 100_000
    time_budget_seconds: float = 2.0
    # The file's size (`security.max_ics_bytes`; the default is the setting's).
    max_bytes: int = MAX_ICS_BYTES


@dataclass(frozen=True)
class ParsedCalendar:
    """Events found in an .ics file within the window; `skipped` lacked a usable start;
    `notes` name the series read as continuous busy stretches (calendars/runs.py) and the
    events longer than `LONGEST_EVENT`, clipped to the window;
    `series`: the UIDs the file gives whole (a recurring event's master, or a single event),
    whose occurrences, stored as `<UID>#...`, are only those the file yields now."""

    events: list[CalendarEvent]
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
