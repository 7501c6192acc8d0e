"""Busy runs of a series that repeats so often it covers its span: read without expanding it.

A spam invitation with RRULE:FREQ=SECONDLY (or MINUTELY) and no end would walk millions of
steps; the step caps (recurrence.py) refuse it and so the whole calendar read. But a series
whose step is not longer than `GRANULARITY` (the finest scheduler slot) or than its own
duration hits every slot from its first occurrence in a stretch to its last: it is read as
one busy interval per continuous run within the read window, in time proportional to the
window's days, not to the occurrences.

Only what can be computed exactly is treated so: one RRULE with a sub-daily FREQ, a
DATE-TIME DTSTART, BYHOUR / BYDAY (plain weekdays) / BYMONTH / BYMONTHDAY limits (each run
is then one allowed stretch of a day, e.g. FREQ=MINUTELY;BYHOUR=9 is 09:00-10:00 daily),
UNTIL, COUNT without BY* parts, EXDATE, RDATE and overridden occurrences (RECURRENCE-ID,
without RANGE). Anything else goes through the capped expansion as before.

Steps are taken in DTSTART's wall-clock time (as the expanders do); gaps between occurrences
shorter than `GRANULARITY` count as busy, so a series is never read as less busy than it is.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar

from almanac.calendars.base import CalendarEvent, overlaps

# The finest slot the scheduler can be set to (SchedulerSettings.slot_minutes >= 5): a series
# stepping this often has an occurrence in every slot of any configured size.
GRANULARITY = timedelta(minutes=5)
_UNIT = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
_LIMITS = ("BYHOUR", "BYDAY", "BYMONTH", "BYMONTHDAY")
_KNOWN = frozenset({"FREQ", "INTERVAL", "UNTIL", "COUNT", "WKST", *_LIMITS})
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Longer occurrences are left to the capped path (and keep the arithmetic far from overflow).
_LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class Dense:
    """A series read as runs: its first occurrence (wall-clock, naive, in `zone`), step,
    duration and limits, and the dates that add or remove occurrences, all read up front."""

    uid: str
    base: CalendarEvent  # the first occurrence (DTSTART), read as any event
    first: datetime
    zone: tzinfo
    step: timedelta
    duration: timedelta
    last: int | None  # the last occurrence's step number (UNTIL, COUNT); None: no end
    hours: frozenset[int]
    weekdays: frozenset[int] | None
    months: frozenset[int] | None
    monthdays: frozenset[int] | None
    skipped: tuple[int, ...]  # step numbers removed by EXDATE or moved by an override
    extra: tuple[CalendarEvent, ...]  # RDATEs and overrides, each as its own event


def _wall(value: date | datetime, zone: tzinfo) -> datetime:
    """A DATE/DATE-TIME value as naive wall-clock time in `zone`."""
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(zone).replace(tzinfo=None)
    return datetime.combine(value, time(23, 59, 59))  # an UNTIL date includes its day


def _values(component: icalendar.Component, name: str) -> list[Any]:
    """The dates (or periods) of every EXDATE/RDATE property of a VEVENT."""
    prop = component.get(name)
    out: list[Any] = []
    for item in prop if isinstance(prop, list) else ([prop] if prop is not None else []):
        out.extend(d.dt for d in getattr(item, "dts", []))
    return out


def dense_series(
    vevents: Sequence[icalendar.Component],
    zone: tzinfo,
    to_event: Callable[[icalendar.Component], CalendarEvent | None],
) -> Dense | str | None:
    """The series (one UID's VEVENTs) as `Dense` when it covers its span; a reason when it
    steps that often but cannot be read so; None otherwise, also for a rule or date that
    cannot be read (the capped expansion then refuses it as before)."""
    try:
        return _dense(vevents, zone, to_event)
    except Exception:  # icalendar parses lazily: a broken RRULE or date surfaces here
        return None


def _dense(
    vevents: Sequence[icalendar.Component],
    zone: tzinfo,
    to_event: Callable[[icalendar.Component], CalendarEvent | None],
) -> Dense | str | None:
    masters = [v for v in vevents if v.get("RECURRENCE-ID") is None]
    if len(masters) != 1 or masters[0].get("RRULE") is None:
        return None
    master = masters[0]
    rules = master.get("RRULE")
    rules = rules if isinstance(rules, list) else [rules]
    rule = {str(k).upper(): list(v) for k, v in rules[0].items()}
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    if freq not in _UNIT:
        return None
    base = to_event(master)
    if base is None:
        return None
    duration = base.end - base.start
    if master.get("DURATION") is not None and master.get("DTEND") is None:
        # Runs step and last in wall-clock time (as the expanders read every occurrence): so
        # does the first, not with the exact hours `vevent_to_event` reads for it.
        duration = max(master.decoded("DURATION"), timedelta(0))
        base = replace(base, end=base.start + duration)
    interval = int(str((rule.get("INTERVAL") or [1])[0]))
    if interval < 1:
        # Not a rule (RFC 5545 3.3.10: a positive integer): read as INTERVAL=1 here, it was
        # busy time, while the capped path refuses it naming INTERVAL; it goes there.
        return None
    step = timedelta(seconds=_UNIT[freq] * interval)
    if step > max(duration, GRANULARITY):
        return None  # occurrences with gaps between them: the capped expansion reads them
    if duration > _LONGEST:
        return None
    unknown = sorted(set(rule) - _KNOWN)
    start = master.decoded("DTSTART")
    why = None
    if len(rules) > 1 or master.get("EXRULE") is not None:
        why = "it has more than one rule"
    elif unknown:
        why = f"its {', '.join(unknown)} part is not read as continuous"
    elif rule.get("COUNT") and any(p in rule for p in _LIMITS):
        why = "COUNT with BY* limits is not read as continuous"
    elif any(str(d).upper() not in _WEEKDAYS for d in rule.get("BYDAY", [])):
        why = "BYDAY with ordinals is not read as continuous"
    elif not isinstance(start, datetime):
        why = "its DTSTART is a date"
    elif any(v.get("RECURRENCE-ID").params.get("RANGE") for v in vevents if v is not master):
        why = "an override with RANGE is not read as continuous"
    if why is not None:
        return why
    assert isinstance(start, datetime)
    zone = start.tzinfo or zone
    first = _wall(start, zone)
    last = None
    if rule.get("UNTIL"):
        last = (_wall(rule["UNTIL"][0], zone) - first) // step
    if rule.get("COUNT"):
        count = int(str(rule["COUNT"][0])) - 1
        last = count if last is None else min(last, count)
    overrides = [v for v in vevents if v is not master]
    skipped = set()
    removed = _values(master, "EXDATE") + [v.decoded("RECURRENCE-ID") for v in overrides]
    for value in removed:
        k, rest = divmod(_wall(value, zone) - first, step)
        if not rest:
            skipped.add(k)
    # An EXDATE removes an RDATE too, and an override replaces the RDATE it names.
    gone = {_aware(value, zone) for value in removed}
    extra = [e for e in map(to_event, overrides) if e is not None]
    for value in _values(master, "RDATE"):
        if _aware(value[0] if isinstance(value, tuple) else value, zone) in gone:
            continue
        if isinstance(value, tuple):  # a PERIOD: (start, end or duration)
            begin = _aware(value[0], zone)
            end = _aware(value[1], zone) if isinstance(value[1], datetime) else begin + value[1]
        else:
            begin = _aware(value, zone)
            end = begin + duration
        extra.append(replace(base, start=begin, end=max(end, begin)))

    def ints(name: str, lo: int, hi: int) -> frozenset[int] | None:
        if name not in rule:
            return None
        return frozenset(int(str(v)) for v in rule[name] if lo <= int(str(v)) <= hi)

    days = rule.get("BYDAY")
    hours = ints("BYHOUR", 0, 23)
    return Dense(
        uid=str(master.get("UID", "")),
        base=base,
        first=first,
        zone=zone,
        step=step,
        duration=duration,
        last=last,
        hours=frozenset(range(24)) if hours is None else hours,
        weekdays=None if days is None else frozenset(_WEEKDAYS.index(str(d).upper()) for d in days),
        months=ints("BYMONTH", 1, 12),
        monthdays=ints("BYMONTHDAY", -31, 31),
        skipped=tuple(sorted(skipped)),
        extra=tuple(extra),
    )


def _allowed(day: date, dense: Dense) -> list[tuple[int, int]]:
    """The hours [h0, h1) of `day` in which the rule's limits let occurrences fall."""
    if dense.months is not None and day.month not in dense.months:
        return []
    if dense.weekdays is not None and day.weekday() not in dense.weekdays:
        return []
    if dense.monthdays is not None:
        last = monthrange(day.year, day.month)[1]  # no date arithmetic: 9999-12 is valid
        if day.day not in dense.monthdays and day.day - last - 1 not in dense.monthdays:
            return []
    spans: list[tuple[int, int]] = []
    for h in sorted(dense.hours):
        if spans and spans[-1][1] == h:
            spans[-1] = (spans[-1][0], h + 1)
        else:
            spans.append((h, h + 1))
    return spans


def _stretches(
    dense: Dense, lo: datetime, hi: datetime, per_day: bool
) -> list[tuple[datetime, datetime]]:
    """Wall-clock stretches [a, b) meeting [lo, hi) where occurrences may fall, merged
    (within each day when `per_day`); a stretch starts where the day's limits start it,
    not at `lo`, so where a run begins does not depend on the window."""
    out: list[tuple[datetime, datetime]] = []
    day = lo.date()
    while day <= hi.date():
        midnight = datetime.combine(day, time(0))
        for h0, h1 in _allowed(day, dense):
            a = max(midnight + timedelta(hours=h0), dense.first)
            b = min(midnight + timedelta(hours=h1), hi)
            if a >= b or b <= lo:
                continue
            if out and out[-1][1] == a and not per_day:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        day += timedelta(days=1)
    return out


def _ceil_steps(delta: timedelta, step: timedelta) -> int:
    return -((-delta) // step)


def runs(
    dense: Dense, window: tuple[datetime, datetime], *, per_day: bool = False
) -> list[CalendarEvent]:
    """The series' busy runs (and RDATEs, overrides) meeting `window`, as events made from
    the master's fields; work bounded by the window's days and the series' own dates.

    `per_day` (an import, which stores them): runs are cut at midnight and each is named
    `<UID>#<its first occurrence, UTC>`, whatever the window, so importing the same file
    again over a shifted window finds the same rows."""
    zone, step, first = dense.zone, dense.step, dense.first
    # Occurrences t meeting the window: t + duration > w0 and t < w1 (an hour of slack
    # for wall-clock arithmetic across a DST change; the runs are clipped below).
    lo = max(_wall(window[0], zone) - dense.duration - timedelta(hours=1), first)
    hi = _wall(window[1], zone) + timedelta(hours=1)
    skips = dense.skipped
    spans: list[tuple[int, int]] = []
    for a, b in _stretches(dense, lo, hi, per_day):
        k0 = max(_ceil_steps(a - first, step), 0)
        k1 = _ceil_steps(b - first, step) - 1
        if dense.last is not None:
            k1 = min(k1, dense.last)
        for k in [*skips[bisect_left(skips, k0) : bisect_right(skips, k1)], k1 + 1]:
            if k0 <= k - 1:
                spans.append((k0, k - 1))
            k0 = k + 1
    # Instants take no time however often they come: shown, but not busy.
    busy = dense.base.busy and dense.duration > timedelta(0)
    stretches = []
    for k0, k1 in spans:
        begin = (first + k0 * step).replace(tzinfo=zone)
        stop = (first + k1 * step).replace(tzinfo=zone) + dense.duration
        if dense.duration and stop <= window[0]:
            continue  # ends where the window starts: not clipped to an instant in it
        # Clipped to the window: the series' span outside it is not what was read.
        start = max(begin, window[0])
        end = max(min(stop, window[1]), start)
        if overlaps(start, end, window):
            uid = f"{dense.base.uid}#{begin.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            stretches.append((uid if per_day else dense.base.uid, start, end))
    said = note(dense, len(stretches))
    out = [
        replace(dense.base, uid=u, start=s, end=e, busy=busy, note=said) for u, s, e in stretches
    ]
    if (
        0 not in skips
        and (dense.last is None or dense.last >= 0)
        and not any(h0 <= first.hour < h1 for h0, h1 in _allowed(first.date(), dense))
    ):
        out.append(dense.base)  # DTSTART is the first occurrence even where BY* parts say no
    out.extend(dense.extra)
    return [e for e in out if overlaps(e.start, e.end, window)]


def _aware(value: date | datetime, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0), tzinfo=zone)


def note(dense: Dense, count: int) -> str:
    """What the response and /health say about a series read as runs."""
    every = f"{dense.step.total_seconds():g} s"
    return (
        f"event {dense.uid[:200]!r} ({dense.base.title[:80]!r}) repeats every {every}: read as "
        f"{count} continuous busy stretch(es) in the window, not one event per occurrence"
    )


def note_of(events: Sequence[CalendarEvent]) -> str:
    """The note of the first event that has one ("" if none)."""
    return next((e.note for e in events if e.note), "")
