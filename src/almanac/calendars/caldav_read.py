"""Reading a CalDAV calendar's window: each stored object's VEVENTs as events, recurrences
expanded within the window under the read's `RecurrenceBudget` (dense series as runs,
runs.py), an unknown TZID said in the event's `note`. Runs in the provider's worker thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]  # caldav's own dependency

from almanac.calendars.base import (
    LAST_NOTICE,
    CalendarEvent,
    CalendarUnavailable,
    overlaps,
)
from almanac.calendars.caldav_principal import PrincipalLookups
from almanac.calendars.ical_zones import parse_own_zones
from almanac.calendars.ics_limits import IcsLimits
from almanac.calendars.recurrence import RecurrenceBudget
from almanac.calendars.runs import Dense, dense_series, note_of, runs
from almanac.calendars.vevent import (
    keep_durations,
    restore_duration,
    text,
    vevent_to_event,
    zone_note,
)

# Recurrence work of one read (at most about 4 us a step): a user's series from years back
# is a few thousand steps (a yearly BYMONTH;BYMONTHDAY one since 1900, about 46,000);
# FREQ=SECONDLY from last month is millions. Steps bound each series, time the read.
CALDAV_LIMITS = IcsLimits(max_occurrences=20_000, max_rule_steps=200_000, time_budget_seconds=5.0)


class CalDAVReads(PrincipalLookups):
    """The reading half of `CalDAVCalendar`: all-day and floating times in `zone`."""

    zone: ZoneInfo
    shown_ref: str

    def _to_event(self, obj: Any, comp: icalendar.Component) -> CalendarEvent | None:
        """Convert one VEVENT (an occurrence, if recurring) of a caldav object."""
        if comp.name != "VEVENT":
            return None
        restore_duration(comp)  # an exact DURATION, not the expander's wall-clock DTEND
        return vevent_to_event(
            comp,
            self.zone,
            text(comp, "UID"),
            etag=obj.etag,
            href=str(obj.url) if obj.url is not None else None,
            owner=self._owner_of(comp),
        )

    def _occurrences(
        self, obj: Any, start: datetime, end: datetime, budget: RecurrenceBudget
    ) -> list[CalendarEvent]:
        """The events of one stored object, noted when a TZID is unknown (`zone_note`)."""
        cal = parse_own_zones(obj.data, lambda vtimezone: budget.zone(vtimezone, end))
        vevents = list(cal.walk("VEVENT"))
        events = self._expanded(obj, cal, vevents, (start, end), budget)
        # The import refuses such a TZID (422); one odd event must not fail a whole read,
        # nor silently land at its wall-clock time in the user's zone: it is said.
        said = zone_note(vevents, self.zone)
        if not said:
            return events
        return [replace(e, note=f"{e.note}; {said}" if e.note else said) for e in events]

    def _expanded(
        self,
        obj: Any,
        cal: icalendar.Calendar,
        vevents: list[icalendar.Component],
        window: tuple[datetime, datetime],
        budget: RecurrenceBudget,
    ) -> list[CalendarEvent]:
        """The events of one stored object, recurrences expanded within about the window
        and counted against the read's `budget`; a dense series is read as runs (runs.py)."""
        start, end = window
        recurring = len(vevents) > 1 or any("RRULE" in v or "RDATE" in v for v in vevents)
        if not recurring:
            return self._events(obj, vevents)
        # Expanded here rather than with search(expand=True), whose split copies lose the
        # ETag; a day of slack each side covers floating and all-day occurrences.
        slack = timedelta(days=1)
        uid = text(vevents[0], "UID")[:200]
        keep_durations(vevents)  # the expander's copies keep the source's DURATION
        dense = dense_series(vevents, self.zone, lambda c: self._to_event(obj, c))
        if isinstance(dense, Dense):
            events = runs(dense, (start, end))
            budget.occurrences_of(uid, len(events))
            return events
        for vevent in vevents:
            budget.walk(uid, vevent, end + slack, self.zone, dense)
        try:
            found: list[Any] = recurring_ical_events.of(cal).between(start - slack, end + slack)
        except Exception as e:  # a rule or date the expander cannot read
            raise budget.refuse(f"event {uid!r}: cannot expand its recurrence: {e}") from e
        budget.occurrences_of(uid, len(found))
        return self._events(obj, found)

    def _events(self, obj: Any, comps: Sequence[Any]) -> list[CalendarEvent]:
        return [e for c in comps if (e := self._to_event(obj, c)) is not None]

    def _refuse(self, message: str) -> CalendarUnavailable:
        return CalendarUnavailable(
            f"CalDAV calendar {self.shown_ref!r} holds an event Almanac will not expand: {message}"
        )

    def _in_window(
        self, start: datetime, end: datetime, expand: bool = True
    ) -> list[tuple[Any, CalendarEvent]]:
        """(caldav object, CalendarEvent) pairs overlapping [start, end); worker thread."""
        pairs = []
        # Servers (and caldav's own post-filter) place all-day and floating events in UTC or
        # in the window's zone, not ours: ask for a day more each side and filter here.
        slack = timedelta(days=1)
        # post_filter=False: the library's own filter expanded every recurrence of the
        # answer itself, before the budget below (one FREQ=SECONDLY reminder: 35 s).
        found = self._get_calendar().search(
            start=start - slack, end=end + slack, event=True, post_filter=False
        )
        budget = RecurrenceBudget(
            CALDAV_LIMITS,
            self._refuse,
            source="calendar",
            per="read",
            advice="shorten or remove the series that repeat most",
        )
        for obj in found:
            events = (
                self._occurrences(obj, start, end, budget)
                if expand
                else self._events(obj, parse_own_zones(obj.data).walk("VEVENT")[:1])
            )
            for event in events:
                # Our own overlap test: servers differ on edges, all-day and floating events.
                if overlaps(event.start, event.end, (start, end)):
                    pairs.append((obj, event))
        # By the UTC instant, each start's offset asked once (as the .ics import sorts):
        # comparing starts in two zones asks both offsets, and a zone the calendar defines
        # (a VTIMEZONE, dateutil's) walks its rules for each comparison.
        pairs.sort(key=lambda p: (p[1].start.astimezone(UTC), p[1].uid))
        if expand:  # /health shows what the last read treated specially, if anything
            said = note_of([event for _, event in pairs])
            if said:
                LAST_NOTICE["calendar"] = (datetime.now(UTC), said)
            else:
                LAST_NOTICE.pop("calendar", None)
        return pairs
