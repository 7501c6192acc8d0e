"""runs.py against the expander over random rules: every instant an expanded occurrence
covers is covered by a run (busy time is never lost), and the runs cover nothing beyond
the occurrences and gaps shorter than a slot (busy time is not invented)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from almanac.calendars.runs import GRANULARITY, Dense, dense_series, runs
from almanac.calendars.vevent import vevent_to_event

USER = ZoneInfo("Europe/Berlin")
# Days next to clock changes in Berlin and New York, and an ordinary one.
DAYS = [datetime(2026, 3, 28), datetime(2026, 3, 7), datetime(2026, 10, 24), datetime(2026, 6, 29)]
Span = tuple[datetime, datetime]


def _fmt(zone: str | None, at: datetime) -> str:
    if zone is None:
        return f":{at:%Y%m%dT%H%M%S}"
    if zone == "UTC":
        return f":{at:%Y%m%dT%H%M%S}Z"
    return f";TZID={zone}:{at:%Y%m%dT%H%M%S}"


@st.composite
def _series(draw: Any) -> tuple[str, tuple[datetime, datetime]]:
    freq, unit, intervals = draw(
        st.sampled_from(
            [("SECONDLY", 1, [60, 90, 120, 300]), ("MINUTELY", 60, list(range(1, 21)))]
            + [("HOURLY", 3600, [1, 2])]
        )
    )
    interval = draw(st.sampled_from(intervals))
    length = draw(st.one_of(st.integers(0, 400), st.integers(0, 3 * 3600)))
    assume(unit * interval <= max(length, 300))
    zone = draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", None]))
    day = draw(st.sampled_from(DAYS))
    start = day + timedelta(seconds=draw(st.integers(0, 30 * 3600)))
    parts, limited = [f"FREQ={freq}", f"INTERVAL={interval}"], False
    for name, values in (
        ("BYHOUR", st.integers(0, 23)),
        ("BYDAY", st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])),
        ("BYMONTHDAY", st.integers(-31, 31).filter(bool)),
    ):
        if draw(st.booleans()):
            chosen = draw(st.sets(values, min_size=1, max_size=5))
            parts.append(f"{name}={','.join(map(str, sorted(chosen)))}")
            limited = True
    end = draw(st.sampled_from(["none", "until", "count"]))
    if end == "until":
        until = start + timedelta(seconds=draw(st.integers(-3600, 40 * 3600)))
        real = until.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC) if zone else until
        parts.append(f"UNTIL={real:%Y%m%dT%H%M%S}{'Z' if zone else ''}")
    elif end == "count" and not limited:
        parts.append(f"COUNT={draw(st.integers(1, 300))}")
    lines = [
        "UID:s",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART{_fmt(zone, start)}",
        f"DURATION:PT{length}S",
        f"RRULE:{';'.join(parts)}",
    ]
    step = timedelta(seconds=unit * interval)
    for k in draw(st.lists(st.integers(0, 600), max_size=3)):
        lines.append(f"EXDATE{_fmt(zone, start + k * step)}")
    if draw(st.booleans()):
        lines.append(f"RDATE{_fmt(zone, start + timedelta(seconds=draw(st.integers(0, 99999))))}")
    w0 = (day + timedelta(seconds=draw(st.integers(0, 40 * 3600)))).replace(tzinfo=UTC)
    window = (w0, w0 + timedelta(seconds=draw(st.integers(60, 24 * 3600))))
    body = "".join(f"{line}\r\n" for line in lines)
    ical = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n{body}"
    return ical + "END:VEVENT\r\nEND:VCALENDAR\r\n", window


def _merged(spans: list[Span], gap: timedelta = timedelta(0)) -> list[Span]:
    out: list[list[datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _clipped(spans: list[Span], window: Span) -> list[Span]:
    cut = [(max(a, window[0]), min(b, window[1])) for a, b in spans]
    return _merged([(a, b) for a, b in cut if a < b])


def _outside(inner: list[Span], outer: list[Span]) -> list[Span]:
    """The parts of `inner` that `outer` does not cover."""
    left = []
    for a, b in inner:
        at = a
        for c, d in outer:
            if d <= at or c >= b:
                continue
            if c > at:
                left.append((at, c))
            at = max(at, d)
        if at < b:
            left.append((at, b))
    return left


# Derandomized: the same 40 examples every run. A random draw can meet a recurring-ical-events
# bug (seed 2: an EXDATE at a midnight start on a DST day also drops the 01:00 occurrence),
# which would fail CI on the reference expansion, not on the code under test.
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_series(), st.booleans())
def test_runs_cover_the_expanded_occurrences_and_nothing_more(
    case: tuple[str, Span], per_day: bool
) -> None:
    ical, window = case
    vevents = icalendar.Calendar.from_ical(ical).walk("VEVENT")
    dense = dense_series(vevents, USER, lambda v: vevent_to_event(v, USER, "s"))
    assume(isinstance(dense, Dense))
    assert isinstance(dense, Dense)
    try:
        found = recurring_ical_events.of(icalendar.Calendar.from_ical(ical)).between(
            window[0] - timedelta(days=2), window[1] + timedelta(days=1)
        )
    except Exception:  # a rule that never matches (dateutil refuses it): nothing to compare
        assume(False)
    events = [e for c in found if (e := vevent_to_event(c, USER, "s")) is not None]
    utc = [(e.start.astimezone(UTC), e.end.astimezone(UTC)) for e in events if e.end > e.start]
    read = runs(dense, window, per_day=per_day)
    mine = _clipped(
        [(e.start.astimezone(UTC), e.end.astimezone(UTC)) for e in read if e.busy], window
    )
    assert not _outside(_clipped(utc, window), mine), "busy time lost"
    loose = _clipped(_merged(utc, GRANULARITY), window)
    assert not _outside(mine, loose), "busy time invented"
