"""iCalendar (RFC 5545) for the built-in calendar: render its feed, read .ics files to import.

The feed's VEVENTs for Almanac's blocks are the ones CalDAV stores (`build_vcalendar`), with
the row's SEQUENCE and last change as DTSTAMP, so a subscribed app sees the same UIDs and
X-ALMANAC-ID whichever provider wrote them.

Imports expand recurring events into single occurrences over a window (with
`recurring-ical-events`): each occurrence becomes its own user event whose UID is the
series' UID plus `#` and its RECURRENCE-ID, so a re-import finds the same rows.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

from almanac.calendars.base import (
    CalendarEvent,
    EventSpec,
    overlaps,
    require_window,
)
from almanac.calendars.builtin import MAX_TITLE, MAX_UID, entry_to_event
from almanac.calendars.caldav import PRODID, build_vcalendar, vevent_to_event
from almanac.calendars.ics_limits import MAX_ICS_BYTES, IcsLimits, ParsedCalendar
from almanac.calendars.ics_limits import MAX_IMPORT_EVENTS as MAX_IMPORT_EVENTS
from almanac.errors import ValidationFailed
from almanac.models import CalendarEntry

# -- rendering --------------------------------------------------------------------------------


def entry_vevent(entry: CalendarEntry) -> icalendar.Component:
    """The VEVENT for one stored entry (times in UTC or with their TZID)."""
    event = entry_to_event(entry)
    vevent: icalendar.Component
    if event.almanac_id is not None and event.end > event.start and not event.all_day:
        spec = EventSpec(event.almanac_id, event.title, event.start, event.end, event.description)
        vevent = build_vcalendar(spec).walk("VEVENT")[0]
    else:
        vevent = icalendar.Event()
        vevent.add("uid", event.uid)
        vevent.add("summary", event.title)
        if event.all_day:
            # Whole days are DATE values (RFC 5545 3.3.4), not midnights in some zone.
            vevent.add("dtstart", event.start.date())
            vevent.add("dtend", max(event.end.date(), event.start.date() + timedelta(days=1)))
        else:
            vevent.add("dtstart", event.start)
            vevent.add("dtend", event.end)
        if event.description:
            vevent.add("description", event.description)
    for name in ("DTSTAMP", "SEQUENCE", "LAST-MODIFIED"):
        vevent.pop(name, None)
    # Without METHOD, DTSTAMP is when the event last changed in the store (RFC 5545 3.8.7.2).
    changed = (entry.updated_at or datetime.now(UTC)).astimezone(UTC)
    vevent.add("dtstamp", changed)
    vevent.add("last-modified", changed)
    vevent.add("sequence", entry.sequence)
    if not event.busy:
        vevent.add("transp", "TRANSPARENT")
    return vevent


def render_calendar(entries: Iterable[CalendarEntry], *, name: str = "Almanac") -> bytes:
    """One VCALENDAR holding every entry, with the VTIMEZONEs their TZIDs need."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for entry in entries:
        cal.add_component(entry_vevent(entry))
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


# -- parsing ----------------------------------------------------------------------------------


def _text(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    return "" if value is None else str(value).replace("\x00", "")


def _uid(comp: icalendar.Component, series: set[str]) -> str:
    """A stable, storable UID for one occurrence; `series` holds the UIDs that recur."""
    uid = _text(comp, "UID").strip()
    if not uid:
        # RFC 5545 requires a UID; for files without one, derive it from the content so a
        # re-import still finds the same row.
        raw = "|".join(str(comp.get(p, "")) for p in ("SUMMARY", "DTSTART", "DTEND"))
        uid = f"import-{hashlib.sha256(raw.encode()).hexdigest()[:32]}"
    rid = comp.get("RECURRENCE-ID")
    # recurring-ical-events gives single events a RECURRENCE-ID too: only series get one.
    if rid is not None and uid in series:
        uid = f"{uid}#{rid.to_ical().decode()}"
    if len(uid) > MAX_UID:
        uid = f"import-{hashlib.sha256(uid.encode()).hexdigest()}"
    return uid


def _to_event(comp: icalendar.Component, zone: ZoneInfo, series: set[str]) -> CalendarEvent | None:
    """One VEVENT occurrence as a user event; None without a usable DTSTART."""
    event = vevent_to_event(comp, zone, _uid(comp, series))
    if event is None:
        return None
    # Stored in Postgres: no NUL characters, titles within the column.
    return replace(
        event,
        title=event.title.replace("\x00", "")[:MAX_TITLE],
        description=event.description.replace("\x00", ""),
    )


def _calendars(data: bytes) -> list[icalendar.Calendar]:
    try:
        components = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as e:  # icalendar raises many types (ValueError, KeyError, ...) on junk
        raise ValidationFailed(f"not a valid iCalendar file: {e}", field="body") from e
    cals = [c for c in components if c.name == "VCALENDAR"]
    if not cals:
        raise ValidationFailed("the file holds no VCALENDAR", field="body")
    return cals


# Shortest length of one period of each frequency, in seconds: an upper bound on periods.
_PERIOD = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
_ORDER = list(_PERIOD)
# Days one period can expand to when BY* rules pick days inside it.
_DAYS = {"WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
_DAY_RULES = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS")


def _aware_utc(value: object, zone: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if hasattr(value, "year"):  # a DATE
        return datetime(value.year, value.month, value.day, tzinfo=zone)  # type: ignore[attr-defined]
    return None


def rule_steps(rule: dict[str, list[object]], start: datetime, until: datetime) -> int:
    """An upper bound on the steps a recurrence expander walks from `start` to `until`.

    Expanders (dateutil, recurring-ical-events) walk every period from DTSTART, even those
    before the window: RRULE:FREQ=SECONDLY with DTSTART a week back is 604,800 steps.
    """
    freq = str((rule.get("FREQ") or ["DAILY"])[0]).upper()
    interval = max(int(str((rule.get("INTERVAL") or [1])[0])), 1)
    ends = rule.get("UNTIL")
    rule_end = _aware_utc(ends[0], UTC) if ends else None
    end = until if rule_end is None else min(until, rule_end)
    seconds = max((end - start).total_seconds(), 0)
    periods = int(seconds // (_PERIOD.get(freq, 1) * interval)) + 1
    per_period = _DAYS.get(freq, 1) if any(r in rule for r in _DAY_RULES) else 1
    rank = _ORDER.index(freq) if freq in _ORDER else 0
    for by, unit in (("BYHOUR", "HOURLY"), ("BYMINUTE", "MINUTELY"), ("BYSECOND", "SECONDLY")):
        if rank > _ORDER.index(unit):
            per_period *= max(len(rule.get(by) or []), 1)
    return periods * per_period


_DATED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def _require_known_zones(uid: str, vevent: icalendar.Component) -> None:
    """Refuse a TZID that is neither an IANA or Windows zone name nor defined by a
    VTIMEZONE in the file: icalendar reads such times as floating, so the event would
    silently land at that wall-clock time in the user's zone."""
    for name in _DATED:
        prop = vevent.get(name)
        for value in prop if isinstance(prop, list) else [prop]:
            tzid = getattr(value, "params", {}).get("TZID")
            if not tzid:
                continue
            dts = [d.dt for d in value.dts] if hasattr(value, "dts") else [value.dt]
            if any(isinstance(d, datetime) and d.tzinfo is None for d in dts):
                raise ValidationFailed(
                    f"event {uid!r}: {name} names the unknown time zone {str(tzid)[:100]!r}; "
                    "use an IANA zone name (e.g. Europe/Berlin) or include its VTIMEZONE",
                    field="body",
                )


class _Budget:
    """The file's remaining recurrence steps, occurrences and time; refusals name the UID."""

    def __init__(self, limits: IcsLimits) -> None:
        self.limits = limits
        self.steps = 0
        self.occurrences = 0
        self.deadline = time.monotonic() + limits.time_budget_seconds

    def walk(self, uid: str, vevent: icalendar.Component, until: datetime, zone: ZoneInfo) -> None:
        """Count, before expanding it, the steps `vevent`'s rules walk up to `until`."""
        rules = vevent.get("RRULE")
        if rules is None:
            return
        try:
            start = _aware_utc(vevent.decoded("DTSTART"), zone)
        except (KeyError, ValueError):
            return  # no usable start: the event is skipped later
        if start is None:
            return
        for rule in rules if isinstance(rules, list) else [rules]:
            try:
                self.steps += rule_steps(rule, start, until)
            except ValueError as e:
                # icalendar parses a property when it is first read: an unknown FREQ or
                # an INTERVAL past 32 bits surfaces here (BrokenCalendarProperty).
                raise ValidationFailed(
                    f"event {uid!r}: cannot read its RRULE: {e}", field="body"
                ) from e
            if self.steps > self.limits.max_rule_steps:
                raise ValidationFailed(
                    f"event {uid!r}: its RRULE would expand about {self.steps:,} times "
                    f"between DTSTART and the window's end (limit "
                    f"{self.limits.max_rule_steps:,} per file); give it a later DTSTART "
                    "or a coarser rule",
                    field="body",
                )

    def occurrences_of(self, uid: str, count: int) -> None:
        self.occurrences += count
        if self.occurrences > self.limits.max_occurrences:
            raise ValidationFailed(
                f"event {uid!r}: more than {self.limits.max_occurrences} events in the "
                "window; import a shorter window",
                field="body",
            )
        if time.monotonic() > self.deadline:
            raise ValidationFailed(
                f"event {uid!r}: expanding the file took longer than "
                f"{self.limits.time_budget_seconds:g} s; import a shorter window",
                field="body",
            )


def _series(cal: icalendar.Calendar) -> dict[str, icalendar.Calendar]:
    """One small calendar per UID (its VEVENTs and the file's time zones), in file order."""
    zones = cal.walk("VTIMEZONE")
    out: dict[str, icalendar.Calendar] = {}
    for i, vevent in enumerate(cal.walk("VEVENT")):
        uid = _text(vevent, "UID").strip() or f"#{i}"
        if uid not in out:
            part = icalendar.Calendar()
            for zone in zones:
                part.add_component(zone)
            out[uid] = part
        out[uid].add_component(vevent)
    return out


def parse_ics(
    data: bytes | str,
    *,
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    limits: IcsLimits | None = None,
) -> ParsedCalendar:
    """The events of an .ics file overlapping `window`, recurrences expanded, sorted by start.

    DATE and floating times are read in `zone`. Raises ValidationFailed (field "body") for
    files that are too large or not iCalendar, and, naming the event's UID, for a TZID that
    is not a known zone nor defined in the file, for recurrences
    that would walk too far, expand past `limits.max_occurrences` or past the time budget.
    CPU-bound: callers on an event loop run it in a thread (see CalendarService).
    """
    require_window(window[0], window[1], "window_")
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_ICS_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_ICS_BYTES} bytes", field="body")
    if not raw.strip():
        raise ValidationFailed("the file is empty", field="body")
    found: dict[str, CalendarEvent] = {}
    skipped = 0
    budget = _Budget(limits or IcsLimits())
    # A day of slack each side: floating and all-day times are ordered before we localize.
    slack = timedelta(days=1)
    start, end = window[0] - slack, window[1] + slack
    for cal in _calendars(raw):
        series = {
            _text(v, "UID").strip()
            for v in cal.walk("VEVENT")
            if any(p in v for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
        }
        # Each series is expanded only within the window, after its walk from DTSTART has
        # been counted against the file's budget, so no rule can run unbounded.
        for uid, part in _series(cal).items():
            for vevent in part.walk("VEVENT"):
                _require_known_zones(uid, vevent)
                budget.walk(uid, vevent, end, zone)
            try:
                occurrences = recurring_ical_events.of(part).between(start, end)
            except Exception as e:  # bad RRULEs, zones or dates surface while expanding
                raise ValidationFailed(
                    f"event {uid!r}: cannot read its dates or recurrence: {e}", field="body"
                ) from e
            budget.occurrences_of(uid, len(occurrences))
            for comp in occurrences:
                try:
                    event = _to_event(comp, zone, series)
                except Exception as e:
                    raise ValidationFailed(
                        f"event {uid!r}: cannot read its dates: {e}", field="body"
                    ) from e
                if event is None:
                    skipped += 1
                elif overlaps(event.start, event.end, window):
                    found.setdefault(event.uid, event)
    events = sorted(found.values(), key=lambda e: (e.start, e.uid))
    return ParsedCalendar(events=events, skipped=skipped)
