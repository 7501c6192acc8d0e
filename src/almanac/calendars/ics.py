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
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

from almanac.calendars.base import (
    CalendarEvent,
    EventSpec,
    calendar_text,
    overlaps,
    require_window,
)
from almanac.calendars.builtin import MAX_TITLE, MAX_UID, entry_to_event
from almanac.calendars.ics_limits import LONGEST_EVENT, IcsLimits, ParsedCalendar
from almanac.calendars.ics_limits import MAX_IMPORT_EVENTS as MAX_IMPORT_EVENTS
from almanac.calendars.ics_reach import within_reach
from almanac.calendars.recurrence import RecurrenceBudget
from almanac.calendars.recurrence import rule_steps as rule_steps
from almanac.calendars.runs import Dense, dense_series, runs
from almanac.calendars.vevent import (
    PRODID,
    add_zones,
    build_vcalendar,
    keep_durations,
    restore_duration,
    unknown_zones,
    vevent_to_event,
)
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
        vevent.add("summary", calendar_text(event.title))
        if event.all_day:
            # Whole days are DATE values (RFC 5545 3.3.4), not midnights in some zone.
            vevent.add("dtstart", event.start.date())
            vevent.add("dtend", max(event.end.date(), event.start.date() + timedelta(days=1)))
        else:
            vevent.add("dtstart", event.start)
            vevent.add("dtend", event.end)
        if event.description:
            vevent.add("description", calendar_text(event.description))
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
    add_zones(cal)
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
    return _storable(uid)


def _storable(uid: str) -> str:
    """`uid`, or its hash when longer than the column holds."""
    if len(uid) > MAX_UID:
        uid = f"import-{hashlib.sha256(uid.encode()).hexdigest()}"
    return uid


def _to_event(
    comp: icalendar.Component,
    zone: ZoneInfo,
    series: set[str],
    owner: frozenset[str] = frozenset(),
) -> CalendarEvent | None:
    """One VEVENT occurrence as a user event; None without a usable DTSTART; not busy when
    one of `owner`'s addresses declined it."""
    restore_duration(comp)
    event = vevent_to_event(comp, zone, _uid(comp, series), owner=owner)
    if event is None:
        return None
    # Stored in Postgres: no NUL characters, titles within the column; other control
    # characters as the API's events and the feed have them (`calendar_text`).
    return replace(
        event,
        title=calendar_text(event.title.replace("\x00", ""))[:MAX_TITLE],
        description=calendar_text(event.description.replace("\x00", "")),
    )


# Office 365 feeds name UTC "tzone://Microsoft/Utc" and define no VTIMEZONE for it: a TZID
# parameter (quoted or not, before the value's ":" or another ";") read as plain UTC.
_MICROSOFT_UTC = re.compile(rb';TZID="?tzone://Microsoft/Utc"?(?=[;:])', re.IGNORECASE)


def _calendars(data: bytes, window: tuple[datetime, datetime]) -> list[icalendar.Calendar]:
    data = within_reach(_MICROSOFT_UTC.sub(b";TZID=UTC", data), window)
    try:
        components = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as e:  # icalendar raises many types (ValueError, KeyError, ...) on junk
        raise ValidationFailed(f"not a valid iCalendar file: {e}", field="body") from e
    cals = [c for c in components if c.name == "VCALENDAR"]
    if not cals:
        raise ValidationFailed("the file holds no VCALENDAR", field="body")
    return cals


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="body")


def _require_known_zones(uid: str, vevent: icalendar.Component) -> None:
    """Refuse a TZID that is neither an IANA or Windows zone name nor defined by a
    VTIMEZONE in the file: the event would silently land at that wall-clock time in the
    user's zone."""
    unknown = unknown_zones(vevent)
    if unknown:
        name, tzid = unknown[0]
        raise ValidationFailed(
            f"event {uid!r}: {name} names the unknown time zone {tzid!r}; "
            "use an IANA zone name (e.g. Europe/Berlin) or include its VTIMEZONE",
            field="body",
        )


def _series(vevents: list[icalendar.Component]) -> dict[str, list[icalendar.Component]]:
    """The VEVENTs of each UID, in file order."""
    out: dict[str, list[icalendar.Component]] = {}
    for i, vevent in enumerate(vevents):
        out.setdefault(_text(vevent, "UID").strip() or f"#{i}", []).append(vevent)
    return out


def _expandable(
    vevents: list[icalendar.Component], zones: list[icalendar.Component]
) -> icalendar.Calendar:
    """One small calendar for the expander: a series' VEVENTs and the file's time zones."""
    part = icalendar.Calendar()
    for zone in zones:
        part.add_component(zone)
    for vevent in vevents:
        part.add_component(vevent)
    return part


# Parts that make a VEVENT (part of) a series, or that the expander rewrites (a DURATION
# becomes a wall-clock DTEND, which `restore_duration` undoes).
_EXPANDED = ("RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID", "DURATION")


def _plain(vevents: list[icalendar.Component]) -> bool:
    """Whether a UID's VEVENTs are one single event the expander would hand back unchanged:
    a UID, no recurrence, a DTSTART and a DTEND of the same kind (DATE, zoned or floating
    DATE-TIME) or none. Most of a large export; read directly, the expander's copy of each
    one cost about a third of the parse (bench/ics_parse_bench.py)."""
    if len(vevents) != 1:
        return False
    vevent = vevents[0]
    # Without a UID, one is derived from the properties as the expander's copy prints them.
    if any(p in vevent for p in _EXPANDED) or not _text(vevent, "UID").strip():
        return False
    try:
        start = vevent.decoded("DTSTART")
        end = vevent.decoded("DTEND") if "DTEND" in vevent else start
    except Exception:  # no DTSTART, or one icalendar cannot read: the expander's path says
        return False
    if type(start) is not type(end):
        return False
    return not isinstance(start, datetime) or (start.tzinfo is None) == (end.tzinfo is None)


def parse_ics(
    data: bytes | str,
    *,
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    limits: IcsLimits | None = None,
    owner: frozenset[str] = frozenset(),
) -> ParsedCalendar:
    """The events of an .ics file overlapping `window`, recurrences expanded, sorted by start.

    DATE and floating times are read in `zone`; an invitation one of `owner`'s addresses
    (`vevent.address` form) declined is not busy. Raises ValidationFailed (field "body") for
    files that are too large or not iCalendar; naming the event's UID, for a TZID that is
    not a known zone nor defined in the file and for a recurrence that would walk too far;
    naming the bound, for a file past `limits.max_occurrences` or the time budget.
    CPU-bound: callers on an event loop run it in a thread (see CalendarService).
    """
    require_window(window[0], window[1], "window_")
    raw = data.encode() if isinstance(data, str) else data
    limits = limits or IcsLimits()
    if len(raw) > limits.max_bytes:
        raise ValidationFailed(f"the file is larger than {limits.max_bytes} bytes", field="body")
    if not raw.strip():
        raise ValidationFailed("the file is empty", field="body")
    found: dict[str, CalendarEvent] = {}
    notes: list[str] = []
    skipped = 0
    masters: set[str] = set()
    budget = RecurrenceBudget(limits, _refuse)
    # A day of slack each side: floating and all-day times are ordered before we localize.
    slack = timedelta(days=1)
    start, end = window[0] - slack, window[1] + slack
    for cal in _calendars(raw, window):
        vevents_of_file = cal.walk("VEVENT")
        zones = cal.walk("VTIMEZONE")
        for vtimezone in zones:  # before any time in them is read
            budget.zone(vtimezone, end)
        series = {
            _text(v, "UID").strip()
            for v in vevents_of_file
            if any(p in v for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
        }
        # Every UID the file gives whole (a master or a single event, not an override
        # alone): its occurrences the file no longer yields go, a series that became one
        # event included (its old occurrences stayed busy).
        masters |= {_text(v, "UID").strip() for v in vevents_of_file if "RECURRENCE-ID" not in v}
        # Each series is expanded only within the window, after its walk from DTSTART has
        # been counted against the step cap, so no series can run unbounded (and the time
        # budget, checked after each, bounds the file).
        for uid, vevents in _series(vevents_of_file).items():
            for vevent in vevents:
                _require_known_zones(uid, vevent)
            keep_durations(vevents)
            if _plain(vevents):
                try:
                    event = _to_event(vevents[0], zone, series, owner)
                except Exception as e:
                    raise ValidationFailed(
                        f"event {uid!r}: cannot read its dates: {e}", field="body"
                    ) from e
                inside = event is not None and overlaps(event.start, event.end, window)
                budget.occurrences_of(uid, int(inside))
                if event is None:
                    skipped += 1
                elif inside:
                    found.setdefault(event.uid, _within(event, window, notes))
                continue
            # A series that covers its span is read as busy stretches, without the caps.
            read = partial(_to_event, zone=zone, series=series, owner=owner)
            dense = dense_series(vevents, zone, read)
            if isinstance(dense, Dense):
                runs_of = _runs(dense, window)
                budget.occurrences_of(uid, len(runs_of))
                notes.extend(sorted({e.note for e in runs_of if e.note}))
                for run in runs_of:
                    # An RDATE may start where a run does (the same UID): the longer stays.
                    kept = found.get(run.uid)
                    if kept is None or kept.end < run.end:
                        found[run.uid] = run
                continue
            for vevent in vevents:
                budget.walk(uid, vevent, end, zone, dense)
            try:
                part = _expandable(vevents, zones)
                occurrences = recurring_ical_events.of(part).between(start, end)
            except Exception as e:  # bad RRULEs, zones or dates surface while expanding
                raise ValidationFailed(
                    f"event {uid!r}: cannot read its dates or recurrence: {e}", field="body"
                ) from e
            budget.occurrences_of(uid, len(occurrences))
            for comp in occurrences:
                try:
                    event = _to_event(comp, zone, series, owner)
                except Exception as e:
                    raise ValidationFailed(
                        f"event {uid!r}: cannot read its dates: {e}", field="body"
                    ) from e
                if event is None:
                    skipped += 1
                elif overlaps(event.start, event.end, window) and event.uid not in found:
                    found[event.uid] = _within(event, window, notes)
    # Ordered by the instant in UTC, each start's offset asked once: comparing two starts
    # in different zones asks both, and a zone from the file's VTIMEZONE (dateutil's) walks
    # its rules from 1970 each time, a quarter of a large export's parse (bench/).
    events = sorted(found.values(), key=lambda e: (e.start.astimezone(UTC), e.uid))
    # Only UIDs whose occurrences keep the `<UID>#` prefix (not hashed for length).
    recurring = sorted(u for u in masters if u and len(u) < MAX_UID)
    return ParsedCalendar(events=events, skipped=skipped, notes=notes, series=recurring)


def _within(
    event: CalendarEvent, window: tuple[datetime, datetime], notes: list[str]
) -> CalendarEvent:
    """`event`, or, when longer than `LONGEST_EVENT`, its part in the window (whole days for
    an all-day event) with a note saying so; events of any real length are kept whole."""
    if event.end - event.start <= LONGEST_EVENT:
        return event
    zone = event.start.tzinfo
    lo, hi = window[0].astimezone(zone), window[1].astimezone(zone)
    if event.all_day:
        lo = datetime.combine(lo.date(), time(0), tzinfo=zone)
        if hi.time() != time(0):
            hi = datetime.combine(hi.date() + timedelta(days=1), time(0), tzinfo=zone)
    start, end = max(event.start, lo), min(event.end, hi.astimezone(event.end.tzinfo))
    if (start, end) == (event.start, event.end):
        return event  # a long window holds all of it: what was asked for
    said = f"event {event.uid.partition('#')[0][:200]!r} ({event.title[:80]!r})"
    if not any(n.startswith(said) for n in notes):  # one note for a series' occurrences
        notes.append(
            f"{said} lasts {(event.end - event.start).days} days, from "
            f"{event.start:%Y-%m-%d} to {event.end:%Y-%m-%d}: longer than "
            f"{LONGEST_EVENT.days} days (a wrong DTEND or DURATION?), so kept only within "
            f"the import's window, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        )
    return replace(event, start=start, end=end)


def _runs(dense: Dense, window: tuple[datetime, datetime]) -> list[CalendarEvent]:
    """A dense series' runs, each stored under the UID its first occurrence would have
    (a run's is its first occurrence, not where the window cuts it: a re-import over
    another window finds the same rows)."""
    master = dense.base.uid
    return [
        replace(e, uid=_storable(f"{master}#{e.start.astimezone(UTC):%Y%m%dT%H%M%SZ}"))
        if e.uid == master
        else replace(e, uid=_storable(e.uid))
        for e in runs(dense, window, per_day=True)
    ]
