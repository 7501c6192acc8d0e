"""ics_reach.py leaves out, before parsing, only plain events that cannot reach the import's
window: an import with it reads exactly what one without it reads, over random files of
every kind of event near and far from the window's edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from almanac.calendars import ics as ics_module
from almanac.calendars.ics import IcsLimits, parse_ics
from almanac.calendars.ics_reach import within_reach
from almanac.errors import ValidationFailed

WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))
BERLIN = ZoneInfo("Europe/Berlin")
LIMITS = IcsLimits(max_occurrences=100_000, time_budget_seconds=600)
ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
    "DTSTART:16010101T000000\r\nTZOFFSETFROM:-1100\r\nTZOFFSETTO:-1100\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def _stamp(kind: str, at: datetime) -> str:
    match kind:
        case "date":
            return f";VALUE=DATE:{at:%Y%m%d}"
        case "utc":
            return f":{at:%Y%m%dT%H%M%SZ}"
        case "floating":
            return f":{at:%Y%m%dT%H%M%S}"
        case "kiribati":
            return f";TZID=Pacific/Kiritimati:{at:%Y%m%dT%H%M%S}"
        case "custom":
            return f";TZID=Customized Time Zone:{at:%Y%m%dT%H%M%S}"
        case _:
            return f';TZID="tzone://Microsoft/Utc":{at:%Y%m%dT%H%M%S}'


@st.composite
def _event(draw: Any, i: int) -> str:
    # Starts from 40 days before the window to 40 after, edges most of all.
    edge = draw(st.sampled_from([WINDOW[0], WINDOW[1]]))
    start = edge.replace(tzinfo=None) + timedelta(
        hours=draw(st.integers(-40 * 24, 40 * 24) | st.integers(-80, 80))
    )
    kind = draw(st.sampled_from(["date", "utc", "floating", "kiribati", "custom", "microsoft"]))
    lines = [f"UID:{draw(st.sampled_from([f'e{i}', 'shared', f'e{i}']))}"]
    lines.append(f"DTSTART{_stamp(kind, start)}")
    length = timedelta(hours=draw(st.integers(-30, 30) | st.integers(-30, 24 * 60)))
    ending = draw(st.sampled_from(["dtend", "dtend", "none", "duration"]))
    if ending == "dtend":
        lines.append(f"DTEND{_stamp(kind, start + length)}")
    elif ending == "duration":
        lines.append(f"DURATION:PT{abs(length.total_seconds()) // 3600:.0f}H")
    extra = draw(st.sampled_from(["", "", "", "RRULE:FREQ=WEEKLY;COUNT=9", "RDATE" + _stamp(
        kind, start + timedelta(days=30)), "VALARM"]))  # fmt: skip
    if extra == "VALARM":
        lines.append("BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM")
    elif extra:
        lines.append(extra)
    lines.append(
        f"SUMMARY:event {i} with a long folded title that runs past seventy-five\r\n  octets"
    )
    return "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"


@st.composite
def _file(draw: Any) -> bytes:
    count = draw(st.integers(1, 12))
    events = [draw(_event(i)) for i in range(count)]
    body = "".join(events)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    return f"{head}{ZONE}{body}END:VCALENDAR\r\n".encode()


def _read(data: bytes) -> Any:
    try:
        parsed = parse_ics(data, window=WINDOW, zone=BERLIN, limits=LIMITS)
    except ValidationFailed as e:
        return ("refused", e.message)
    return ([(e.uid, e.start, e.end, e.all_day, e.busy) for e in parsed.events], parsed.skipped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_file())
def test_an_import_reads_the_same_with_and_without_leaving_events_out(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ics_module, "within_reach", lambda data, window: data)
        whole = _read(data)
    assert _read(data) == whole


def test_a_years_long_export_is_parsed_for_its_window_only() -> None:
    """Four years of plain meetings, a two-week window: the parser sees only the events
    near it (and every series), and finds the same ones."""
    events = []
    first = date(2022, 6, 1)
    for n in range(1460):
        day = first + timedelta(days=n)
        events.append(
            f"BEGIN:VEVENT\r\nUID:m{n}\r\nDTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T100000\r\n"
            f"DTEND;TZID=Europe/Berlin:{day:%Y%m%d}T110000\r\nSUMMARY:Call\r\nEND:VEVENT\r\n"
        )
    events.append(
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTART:20220606T080000Z\r\nDTEND:20220606T083000Z\r\n"
        "RRULE:FREQ=WEEKLY\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n"
    )
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "".join(events) + "END:VCALENDAR\r\n").encode()
    kept = within_reach(data, WINDOW)
    # Those from 26 February to 18 March (the window's dates, 3 more each side), the series.
    assert kept.count(b"BEGIN:VEVENT") == 21 + 1
    parsed = parse_ics(data, window=WINDOW, zone=BERLIN, limits=LIMITS)
    calls = [e for e in parsed.events if e.uid.startswith("m")]
    assert len(calls) == 14 and len(parsed.events) == 14 + 2  # two Monday standups


def test_a_bad_date_far_outside_the_window_is_still_refused_when_the_text_cannot_tell() -> None:
    """A date the text cannot read (30 February) is left to the parser, which names it."""
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:bad\r\n"
        b"DTSTART:20190230T100000Z\r\nDTEND:20190230T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert within_reach(data, WINDOW) == data
    with pytest.raises(ValidationFailed, match="'bad'"):
        parse_ics(data, window=WINDOW, zone=BERLIN, limits=LIMITS)
