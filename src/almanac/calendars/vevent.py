"""Almanac's events as iCalendar VEVENTs and back: what CalDAV stores and the built-in
calendar's feed and .ics import read.

All-day events and floating times carry no zone; they are read in the given zone (the
user's), so an all-day event is busy from midnight to midnight of its date(s) there. Events
marked TRANSP:TRANSPARENT or STATUS:CANCELLED, and invitations the user declined (their
ATTENDEE, by one of the user's addresses, with PARTSTAT=DECLINED), are read with `busy=False`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from almanac.calendars.base import (
    ALMANAC_ID_PROPERTY,
    CalendarEvent,
    EventSpec,
    almanac_id_from_uid,
    event_span,
    event_uid,
    zone_name,
)
from almanac.types import MAX_YEAR, MIN_YEAR

PRODID = "-//Almanac//Almanac calendar//EN"


def build_vcalendar(spec: EventSpec) -> icalendar.Calendar:
    """The VCALENDAR (one VEVENT, plus VTIMEZONEs) Almanac stores for `spec`."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", spec.uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("sequence", 0)
    event.add(ALMANAC_ID_PROPERTY, spec.almanac_id)
    set_content(event, spec)
    cal.add_component(event)
    add_zones(cal)
    return cal


def add_zones(cal: icalendar.Calendar) -> None:
    """The VTIMEZONEs the calendar's zoned times need, over the years they span and a year
    either side, each change of offset an observance of its own. icalendar's default lists
    every change from 1970 to 2038 as one RDATE of many values: Radicale keeps only the first
    value, so a client reading the zone from the file put summer times an hour off, and
    times after 2038 were off everywhere. A VTIMEZONE already there is kept."""
    times = [
        value
        for vevent in cal.walk("VEVENT")
        for name in ("DTSTART", "DTEND")
        if isinstance(value := vevent.decoded(name, None), datetime) and value.tzinfo is not None
    ]
    if not times:
        return
    have = {str(z.get("TZID")) for z in cal.walk("VTIMEZONE")}
    cal.add_missing_timezones(
        first_date=(min(times) - timedelta(days=366)).date(),
        last_date=(max(times) + timedelta(days=366)).date(),
    )
    for zone in cal.walk("VTIMEZONE"):
        if str(zone.get("TZID")) not in have:
            zone.subcomponents = [one for obs in zone.subcomponents for one in _each_onset(obs)]


def _each_onset(observance: icalendar.Component) -> list[icalendar.Component]:
    """One observance per onset (its DTSTART and each RDATE value)."""
    if "RRULE" in observance:
        return [observance]
    onsets = [observance.decoded("DTSTART")]
    rdates = observance.get("RDATE", [])
    for prop in rdates if isinstance(rdates, list) else [rdates]:
        onsets += [one.dt for one in prop.dts]
    out = []
    for onset in sorted(set(onsets)):
        one = type(observance)()
        one.add("dtstart", onset)
        for key, value in observance.items():
            if key not in ("DTSTART", "RDATE"):
                one[key] = value
        out.append(one)
    return out


def set_content(event: icalendar.Event, spec: EventSpec) -> None:
    """Write the fields `apply` compares (title, times, description) into a VEVENT."""
    for name in ("SUMMARY", "DTSTART", "DTEND", "DURATION", "DESCRIPTION"):
        event.pop(name, None)
    event.add("summary", spec.title)
    event.add("dtstart", _for_ical(spec.start))
    event.add("dtend", _for_ical(spec.end))
    if spec.description:
        event.add("description", spec.description)


def _for_ical(value: datetime) -> datetime:
    # IANA zones are written with their TZID; UTC and fixed offsets as UTC ("...Z").
    name = zone_name(value)
    return value.astimezone(UTC if name == "UTC" else ZoneInfo(name))


def text(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    return "" if value is None else str(value)


def localize(value: date | datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """An aware datetime for an iCalendar DATE/DATE-TIME value, and whether it was a DATE."""
    if isinstance(value, datetime):
        # Floating local times mean "this wall-clock time wherever the user is".
        return (value if value.tzinfo else value.replace(tzinfo=zone)), False
    return datetime.combine(value, time(0), tzinfo=zone), True


def after(start: datetime, duration: timedelta) -> datetime:
    """`start` + an iCalendar DURATION (RFC 5545 3.3.6): its days (and weeks) are nominal,
    the same wall-clock time that many days on; its hours, minutes and seconds exact, real
    elapsed time. So PT12H across a DST change is 12 real hours, P1D the same time next day."""
    sign = -1 if duration < timedelta(0) else 1
    nominal = timedelta(days=abs(duration).days)
    exact = abs(duration) - nominal
    # Python's aware arithmetic is wall-clock (same tzinfo); a wall time in a DST gap is
    # read at the offset before it, so the exact part, added in UTC, still elapses in full.
    wall = start + sign * nominal
    return (wall.astimezone(UTC) + sign * exact).astimezone(start.tzinfo)


# recurring-ical-events drops DURATION from the occurrences it returns and writes a DTEND of
# DTSTART + DURATION in wall-clock time; the source's DURATION rides along under this name so
# each occurrence's end can be read again with `after` (and the starts of RDATE periods with
# their own end, whose DTEND is kept).
_DURATION_COPY = "X-ALMANAC-SOURCE-DURATION"
_PERIODS_COPY = "X-ALMANAC-SOURCE-PERIODS"


def keep_durations(vevents: list[icalendar.Component]) -> None:
    """Copy each DURATION (of a VEVENT without DTEND) where the expanded occurrences keep it,
    with the starts of its RDATE periods that give their own end."""
    for vevent in vevents:
        for name in (_DURATION_COPY, _PERIODS_COPY):
            vevent.pop(name, None)  # a file's own copy is not trusted
        _exact_from_dtend(vevent)
        if vevent.get("DURATION") is None or vevent.get("DTEND") is not None:
            continue
        vevent[_DURATION_COPY] = vevent["DURATION"]
        rdates = vevent.get("RDATE")
        periods = [
            d.dt[0].isoformat()
            for prop in (rdates if isinstance(rdates, list) else [rdates] if rdates else [])
            for d in getattr(prop, "dts", [])
            if isinstance(d.dt, tuple) and isinstance(d.dt[1], date)
        ]
        if periods:
            vevent[_PERIODS_COPY] = " ".join(periods)


def _exact_from_dtend(vevent: icalendar.Component) -> None:
    """A recurring timed event's DTEND as the exact DURATION each occurrence keeps (RFC 5545
    3.8.5.3): the expander added DTEND - DTSTART on the wall clock, so the occurrence on the
    night the clocks go forward was an hour short (zero length at 02:30-03:30 New York),
    and the one they go back an hour long."""
    if not any(p in vevent for p in ("RRULE", "RDATE")) or "DURATION" in vevent:
        return
    if vevent.get("DTEND") is None or vevent.get("DTSTART") is None:
        return
    start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
    if not (isinstance(start, datetime) and isinstance(end, datetime)):
        return  # all-day: its days are nominal, as the expander counts them
    if start.tzinfo is None or end.tzinfo is None:
        return  # floating: on whatever wall clock reads it
    exact = end.astimezone(UTC) - start.astimezone(UTC)
    if exact > timedelta(0):
        vevent.pop("DTEND")
        vevent.add("DURATION", exact)


def restore_duration(occurrence: icalendar.Component) -> None:
    """Give an expanded occurrence back its source's DURATION in place of the DTEND the
    expander derived from it (only when that DTEND is that derivation; an RDATE period with
    its own end keeps it)."""
    kept = occurrence.get(_DURATION_COPY)
    # A source VEVENT (no DTEND) keeps its copy: it is still to be expanded.
    if kept is None or occurrence.get("DTEND") is None or occurrence.get("DTSTART") is None:
        return
    occurrence.pop(_DURATION_COPY)
    periods = str(occurrence.pop(_PERIODS_COPY, "")).split()
    start, end = occurrence.decoded("DTSTART"), occurrence.decoded("DTEND")
    if start.isoformat() in periods:
        return  # an RDATE period's own end
    if type(start) is type(end) and end == start + kept.dt:
        occurrence.pop("DTEND")
        occurrence["DURATION"] = kept


# The years every calendar entry keeps, with a day's margin so no zone reads them outside.
_EARLIEST = datetime(MIN_YEAR, 1, 2, tzinfo=UTC)
_LATEST = datetime(MAX_YEAR, 12, 31, tzinfo=UTC)


def vevent_to_event(
    comp: icalendar.Component,
    zone: ZoneInfo,
    uid: str,
    *,
    etag: str | None = None,
    href: str | None = None,
    owner: Collection[str] = (),
) -> CalendarEvent | None:
    """One VEVENT occurrence as a `CalendarEvent` (times in `zone`); None without DTSTART.
    `owner` holds the user's addresses (`address` form), to tell an invitation they declined.

    Shared by CalDAV and the built-in calendar's .ics import.
    """
    if comp.get("DTSTART") is None:
        return None
    start, all_day = localize(comp.decoded("DTSTART"), zone)
    if comp.get("DTEND") is not None:
        end, _ = localize(comp.decoded("DTEND"), zone)
    elif comp.get("DURATION") is not None:
        end = after(start, comp.decoded("DURATION"))
    else:
        # RFC 5545: a DATE start without an end lasts one day, a DATE-TIME start no time.
        end = start + timedelta(days=1) if all_day else start
    if all_day:
        # Whole days in the user's zone; re-localize so DST days are 23/25 hours long. A
        # DTEND on the start's own date (invalid, but some exports write it) is that day, as
        # calendar apps show it and the feed writes it: not a holiday that blocks nothing.
        same = end.date() == start.date()
        last = start.date() + timedelta(days=1) if same else end.date()
        end = datetime.combine(last, time(0), tzinfo=zone)
    marker = text(comp, ALMANAC_ID_PROPERTY) or None
    # Ownership needs the UID we derive; a copy that kept only X-ALMANAC-ID is the user's.
    almanac_id = almanac_id_from_uid(uid)
    if marker is not None and event_uid(marker) == uid:
        almanac_id = marker
    # Stored and served within the bounds every calendar entry keeps (src/almanac/types.py):
    # a DURATION of P99999W (a broken invitation) ended in the year 3943.
    start, end = min(max(start, _EARLIEST), _LATEST), min(max(end, _EARLIEST), _LATEST)
    start, end = event_span(start, end)
    transparent = text(comp, "TRANSP").upper() == "TRANSPARENT"
    cancelled = text(comp, "STATUS").upper() == "CANCELLED"
    return CalendarEvent(
        uid=uid,
        title=_clipped(text(comp, "SUMMARY"), TITLE_CHARS),
        start=start,
        end=end,
        description=_clipped(text(comp, "DESCRIPTION"), DESCRIPTION_CHARS),
        almanac_id=almanac_id,
        etag=etag,
        href=href,
        all_day=all_day,
        busy=not (transparent or cancelled or declined(comp, owner)),
    )


# As much as an event added through the API may hold (calendars/schemas.py): an invitation
# with a 1.9-million-character description was stored whole, and served in every poll of
# the feed.
TITLE_CHARS = 500
DESCRIPTION_CHARS = 20_000


def _clipped(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


DATED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


def unknown_zones(vevent: icalendar.Component) -> list[tuple[str, str]]:
    """(property, TZID) for each dated property whose TZID is neither an IANA or Windows
    zone name nor defined by a VTIMEZONE: icalendar reads such times as floating, so they
    land at that wall-clock time in the user's zone."""
    found: list[tuple[str, str]] = []
    for name in DATED:
        prop = vevent.get(name)
        for value in prop if isinstance(prop, list) else [prop]:
            tzid = getattr(value, "params", {}).get("TZID")
            if not tzid:
                continue
            dts = [d.dt for d in value.dts] if hasattr(value, "dts") else [value.dt]
            if any(isinstance(d, datetime) and d.tzinfo is None for d in dts):
                found.append((name, str(tzid)[:100]))
    return found


def zone_note(vevents: list[icalendar.Component], zone: ZoneInfo) -> str:
    """What a read says of an event whose TZID is no zone it knows ("" if none is)."""
    for vevent in vevents:
        for name, tzid in unknown_zones(vevent):
            return (
                f"event {text(vevent, 'UID')[:200]!r} ({text(vevent, 'SUMMARY')[:80]!r}): "
                f"{name} names the unknown time zone {tzid!r}, read as {zone.key} time; "
                "use an IANA zone name (e.g. Europe/Berlin) in the calendar app"
            )
    return ""


def address(value: object) -> str:
    """A calendar user address compared case-blind and without `mailto:`."""
    text = str(value).strip().lower()
    return text.removeprefix("mailto:")


def decliners(comp: icalendar.Component) -> set[str]:
    """The addresses of `comp`'s attendees with PARTSTAT=DECLINED."""
    attendees = comp.get("ATTENDEE")
    listed = attendees if isinstance(attendees, list) else [] if attendees is None else [attendees]
    return {
        address(a)
        for a in listed
        if str(getattr(a, "params", {}).get("PARTSTAT", "")).upper() == "DECLINED"
    }


def declined(comp: icalendar.Component, owner: Collection[str]) -> bool:
    """Whether one of `owner`'s addresses is an ATTENDEE of `comp` with PARTSTAT=DECLINED."""
    return bool(owner) and any(a in owner for a in decliners(comp))
