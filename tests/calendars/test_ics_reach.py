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


_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
_TAIL = "END:VCALENDAR\r\n"
_FAR = "DTSTART:20190110T100000Z\r\nDTEND:20190110T110000Z\r\n"
_IN = "DTSTART:20260305T100000Z\r\nDTEND:20260305T110000Z\r\n"
_WEEKLY = "DTSTART:20190101T090000Z\r\nDTEND:20190101T093000Z\r\nRRULE:FREQ=WEEKLY\r\n"


def _ev(uid: str, dates: str, end: str = "END:VEVENT\r\n") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\n{dates}SUMMARY:{uid}\r\n{end}"


@pytest.mark.parametrize(
    "text",
    [
        # An END folded as RFC 5545 allows: a block read to the next END cut the meeting.
        _HEAD + _ev("old", _FAR, end="END:VEV\r\n ENT\r\n") + _ev("meeting", _IN) + _TAIL,
        # No END: the file is handed on whole (it was imported without the meeting).
        _HEAD + _ev("old", _FAR, end="") + _ev("meeting", _IN) + _TAIL + _HEAD + _TAIL,
        _HEAD + "BEGIN:VEVENT\r\nUID:outer\r\n" + _FAR + _ev("inner", _IN)
        + "END:VEVENT\r\n" + _TAIL,
        # A VALARM's own UID (RFC 9074) is not the event's, which a series shares.
        _HEAD + "BEGIN:VEVENT\r\nBEGIN:VALARM\r\nUID:alarm\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\n"
        "END:VALARM\r\nUID:s\r\n" + _FAR + "END:VEVENT\r\n" + _ev("s", _WEEKLY) + _TAIL,
        _HEAD + _ev("a\\,b", _FAR) + _ev("a,b", _WEEKLY) + _TAIL,  # one UID, escaped or not
        # Refused as before: a zone unknown here, a date in lowercase.
        _HEAD + _ev("old", _FAR.replace(":2019", ";TZID=Mars/Base:2019").replace("Z", ""))
        + _ev("meeting", _IN) + _TAIL,
        _HEAD + _ev("old", _FAR.replace("Z", "z")) + _ev("meeting", _IN) + _TAIL,
        "\ufeff" + (_HEAD + "begin:vevent  \r\nUID:a\r\n" + _FAR + "END:VEVENT\r\n"
        + "begin:vevent\r\nuid;x-p=1:b\r\ndtstart;value=date-time:20190110T100000Z\r\n"
        "END:VEVENT  \r\n" + _ev("meeting", _IN) + _TAIL).replace("\r\n", "\n"),
    ],
    ids=["folded-end", "no-end", "nested", "alarm-uid", "escaped-uid", "unknown-tzid",
         "lowercase-z", "lf-bom-lowercase"],
)  # fmt: skip
def test_an_odd_file_reads_the_same_with_and_without_leaving_events_out(text: str) -> None:
    data = text.encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ics_module, "within_reach", lambda data, window: data)
        whole = _read(data)
    assert _read(data) == whole


def test_a_file_whose_components_do_not_pair_up_is_handed_on_whole() -> None:
    """The text scan stops at nothing: a BEGIN:VEVENT with no END was matched to the file's
    end from each one (minutes for a few hundred kilobytes). Unpaired, nothing is cut."""
    open_ended = _HEAD + "BEGIN:VEVENT\r\nUID:x\r\n" + _FAR
    data = (open_ended * 2000 + _ev("far", _FAR) + _TAIL).encode()
    assert within_reach(data, WINDOW) == data
    cut = (_HEAD + _ev("far", _FAR) + _ev("meeting", _IN) + _TAIL).encode()
    assert b"far" not in within_reach(cut, WINDOW)
