"""A series repeating as often as the finest slot (a FREQ=SECONDLY spam invitation) is read
as continuous busy stretches within the window (calendars/runs.py) instead of refusing the
whole calendar read; series that cannot be read so still go through the step caps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import CalendarUnavailable, merge_intervals
from almanac.calendars.builtin import MAX_UID
from almanac.calendars.caldav import CALDAV_LIMITS, CalDAVCalendar
from almanac.calendars.ics import parse_ics
from almanac.calendars.recurrence import RecurrenceBudget
from almanac.calendars.runs import Dense, dense_series, runs
from almanac.calendars.vevent import vevent_to_event
from almanac.config import BuiltinCalendarSettings, CalendarSettings
from almanac.errors import ValidationFailed
from tests.calendars.conftest import Clients, States
from tests.scheduler.conftest import make_plan, next_monday

BERLIN = ZoneInfo("Europe/Berlin")


def vcalendar(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n{e}\r\nEND:VEVENT\r\n" for e in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n"


def series(uid: str, dtstart: str, rule: str, length: str = "PT1S", extra: str = "") -> str:
    return (
        f"UID:{uid}\r\nDTSTART{dtstart}\r\nDURATION:{length}\r\nRRULE:{rule}\r\n"
        f"SUMMARY:{uid}\r\n{extra}"
    ).rstrip("\r\n")


def spans(events: Any) -> list[tuple[datetime, datetime]]:
    return [(i.start, i.end) for i in merge_intervals((e.start, e.end) for e in events if e.busy)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# -- read as runs: the same busy time as the occurrences, without walking them -----------------


def _expanded(ical: str, window: tuple[datetime, datetime], step: timedelta) -> list[Any]:
    """What the capped path reads: every occurrence, each run of consecutive ones (one step
    apart) as one stretch from its first start to its last end."""
    cal = icalendar.Calendar.from_ical(ical)
    found = recurring_ical_events.of(cal).between(
        window[0] - timedelta(days=1), window[1] + timedelta(days=1)
    )
    events = sorted(
        (e for c in found if (e := vevent_to_event(c, BERLIN, "x")) is not None),
        key=lambda e: e.start,
    )
    stretches: list[list[datetime]] = []
    previous: datetime | None = None
    for e in events:
        if previous is not None and e.start - previous == step:
            stretches[-1][1] = e.end
        else:
            stretches.append([e.start, e.end])
        previous = e.start
    clipped = [(max(s, window[0]), min(e, window[1])) for s, e in stretches]
    return [(i.start, i.end) for i in merge_intervals(clipped)]


def _runs(ical: str, window: tuple[datetime, datetime]) -> tuple[Dense, list[Any]]:
    vevents = icalendar.Calendar.from_ical(ical).walk("VEVENT")
    dense = dense_series(vevents, BERLIN, lambda c: vevent_to_event(c, BERLIN, "x"))
    assert isinstance(dense, Dense), dense
    return dense, runs(dense, window)


@pytest.mark.parametrize(
    ("dtstart", "rule", "length", "extra"),
    [
        (":20260301T083000Z", "FREQ=MINUTELY;BYHOUR=9,10;BYDAY=MO,WE,FR", "PT30S", ""),
        (
            ";TZID=Europe/Berlin:20260302T070010",
            "FREQ=SECONDLY;INTERVAL=20;BYHOUR=8;BYMONTHDAY=3,-1",
            "PT5S",
            "EXDATE;TZID=Europe/Berlin:20260303T081010,20260303T083010",
        ),
        (":20260301T000000Z", "FREQ=MINUTELY;INTERVAL=5;UNTIL=20260303T121200Z", "PT1M", ""),
        (":20260302T220000Z", "FREQ=HOURLY;INTERVAL=2;COUNT=20", "PT2H", ""),
        (
            ":20260302T000000Z",
            "FREQ=MINUTELY;INTERVAL=3;BYMONTH=3",
            "PT10S",
            "RDATE:20260303T231500Z\r\nEXDATE:20260303T120000Z",
        ),
    ],
)
def test_runs_are_the_busy_time_of_the_expanded_occurrences(
    dtstart: str, rule: str, length: str, extra: str
) -> None:
    """Checked against recurring-ical-events on series short enough to expand: BY* limits,
    EXDATE, RDATE, UNTIL, COUNT and a zone give the same stretches either way."""
    ical = vcalendar(series("s", dtstart, rule, length, extra))
    window = (utc(2026, 3, 2, 6), utc(2026, 3, 4, 18))
    dense, found = _runs(ical, window)
    assert found and spans(found) == _expanded(ical, window, dense.step)


@pytest.mark.parametrize(
    "rule", ["FREQ=MINUTELY;INTERVAL=4;BYHOUR=1,2,3", "FREQ=SECONDLY;INTERVAL=270;BYHOUR=2"]
)
def test_runs_across_the_autumn_clock_change_are_the_expanded_occurrences(rule: str) -> None:
    """Steps are wall-clock times in DTSTART's zone, as the expander takes them: the hour
    02:00-03:00 that happens twice on 25 October is read once either way."""
    ical = vcalendar(series("s", ";TZID=Europe/Berlin:20261024T000000", rule, "PT1M"))
    window = (utc(2026, 10, 24, 22), utc(2026, 10, 25, 4))
    dense, found = _runs(ical, window)
    assert found and spans(found) == _expanded(ical, window, dense.step)


def test_minutely_byhour_nine_blocks_only_nine_to_ten_each_day_across_dst() -> None:
    """FREQ=MINUTELY;BYHOUR=9 since 2015 walked millions of steps and refused the read; it
    covers 09:00-10:00 local each day, before and after the clocks change (25 October)."""
    ical = vcalendar(series("nine", ";TZID=Europe/Berlin:20150101T090000", "FREQ=MINUTELY", "PT1M"))
    ical = ical.replace("FREQ=MINUTELY", "FREQ=MINUTELY;BYHOUR=9")
    window = (utc(2026, 10, 23), utc(2026, 10, 28))
    _, found = _runs(ical, window)
    days = [date(2026, 10, d) for d in range(23, 28)]
    nine = [datetime(d.year, d.month, d.day, 9, tzinfo=BERLIN) for d in days]
    assert spans(found) == [(t, t + timedelta(hours=1)) for t in nine]
    assert {t.astimezone(UTC).hour for t in nine} == {7, 8}  # CEST, then CET
    parsed = parse_ics(ical, window=window, zone=BERLIN)
    assert spans(parsed.events) == spans(found)
    assert "'nine'" in parsed.notes[0] and "5 continuous busy stretch" in parsed.notes[0]


# -- a CalDAV read and an .ics import with a spam series ---------------------------------------


def _stored(ical: str) -> Any:
    class Stored:
        data = ical
        etag = None
        url = None

    return Stored()


SPAM = series("spam", ":20260201T000000Z", "FREQ=SECONDLY", "PT1S")
WEEK = (utc(2026, 3, 2), utc(2026, 3, 9))


def test_a_secondly_spam_series_is_busy_time_not_a_refused_read() -> None:
    """FREQ=SECONDLY from a month back made every CalDAV read CalendarUnavailable (503) and
    the import a 422: now it is busy the whole window, at once, and says so."""
    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    found = cal._occurrences(_stored(vcalendar(SPAM)), *WEEK, budget)
    assert spans(found) == [WEEK]
    assert "'spam'" in found[0].note and "every 1 s" in found[0].note
    parsed = parse_ics(vcalendar(SPAM), window=WEEK, zone=BERLIN)
    assert spans(parsed.events) == [WEEK] and parsed.notes


def test_a_dense_pattern_that_cannot_be_read_as_runs_is_still_refused_saying_why() -> None:
    """BYSECOND (or BYMINUTE, BYSETPOS, ...) in a series stepping every second is not read
    as continuous: its walk from a month back is refused as before (503 for a CalDAV read,
    422 for an import), now naming the part that kept it from being read as busy time."""
    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    filtered = series("spam", ":20260201T000000Z", "FREQ=SECONDLY;BYSECOND=0,30")
    with pytest.raises(CalendarUnavailable, match="'spam'.*BYSECOND part is not read as cont"):
        cal._occurrences(_stored(vcalendar(filtered)), *WEEK, budget)
    with pytest.raises(ValidationFailed, match="'spam'.*BYSECOND part is not read as cont"):
        parse_ics(vcalendar(filtered), window=WEEK, zone=BERLIN)
    # Gaps longer than a slot between occurrences: not dense, refused as before.
    sparse = series("sparse", ":20000101T000000Z", "FREQ=MINUTELY;INTERVAL=30", "PT10M")
    with pytest.raises(CalendarUnavailable, match="'sparse': its RRULE would expand"):
        cal._occurrences(_stored(vcalendar(sparse)), *WEEK, budget)


@pytest.mark.parametrize(
    ("rule", "length"),
    [
        ("FREQ=MINUTELY;INTERVAL=0", "PT1H"),
        ("FREQ=SECONDLY;INTERVAL=0;BYHOUR=9", "PT1S"),
        ("FREQ=HOURLY;INTERVAL=-2", "PT3H"),
        ("FREQ=DAILY;INTERVAL=0", "PT1H"),
    ],
)
def test_an_interval_below_one_is_refused_naming_it_on_every_path(rule: str, length: str) -> None:
    """A dense series with INTERVAL=0 was read as INTERVAL=1 (busy every minute) by the runs
    path, while a sparse one was refused: both paths, import and CalDAV read, refuse it
    alike, naming the event and INTERVAL."""
    interval = rule.split("INTERVAL=")[1].split(";")[0]
    said = f"event 'zero': its RRULE has INTERVAL={interval}; it must be a positive integer"
    ical = vcalendar(series("zero", ":20260302T090000Z", rule, length))
    with pytest.raises(ValidationFailed) as info:
        parse_ics(ical, window=WEEK, zone=BERLIN)
    assert info.value.message == said
    assert info.value.errors[0]["field"] == "body"
    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="Europe/Berlin")
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    with pytest.raises(CalendarUnavailable) as read:
        cal._occurrences(_stored(ical), *WEEK, budget)
    assert str(read.value).endswith(said)


# -- against real CalDAV servers (Radicale and Xandikos) and through the scheduler -------------


def _on_server(raw_calendar: Any, *events: str) -> None:
    for event in events:
        raw_calendar.add_event(vcalendar(event))


def _local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


async def test_a_server_holding_minutely_byhour_nine_is_busy_nine_to_ten_only(
    provider: CalDAVCalendar, raw_calendar: Any
) -> None:
    """The read answered 503 (the step cap) for the whole calendar; now only 09:00-10:00
    of each day is busy, beside the user's ordinary meeting."""
    monday = next_monday()
    dtstart = f";TZID=Europe/Berlin:{monday - timedelta(days=400):%Y%m%d}T090000"
    meeting = _local(monday, 14)
    _on_server(
        raw_calendar,
        series("nine", dtstart, "FREQ=MINUTELY;BYHOUR=9", "PT1M"),
        f"UID:meeting\r\nDTSTART:{meeting.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        "DURATION:PT1H\r\nSUMMARY:Meeting",
    )
    days = [monday + timedelta(days=i) for i in range(3)]
    busy = await provider.busy(_local(days[0], 0), _local(days[-1], 23))
    want = [(_local(d, 9), _local(d, 10)) for d in days]
    want.insert(1, (meeting, meeting + timedelta(hours=1)))
    assert [(b.start, b.end) for b in busy] == want


async def _schedule(api: httpx.AsyncClient, session: AsyncSession, monday: date) -> Any:
    """Schedule a plan of one 4-hour task from `monday`; the response's JSON."""
    plan = await make_plan(session, [{"key": "build", "estimate_hours": 4.0}])
    task = {"id": "build", "title": "Build", "estimate_hours": 4.0}
    plan.sop = {"title": "Plan", "steps": [{"id": "s1", "title": "Work", "tasks": [task]}]}
    body = {"plan_id": plan.id, "start_date": monday.isoformat(), "dry_run": False}
    r = await api.post("/api/v1/scheduler/schedule", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _avoided(out: Any, monday: date, meeting: datetime) -> list[str]:
    """Check the blocks fill 4 hours, none of them 09:00-10:00 on any day nor in the
    meeting; the warnings naming the spam series."""
    blocks = [
        (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        for b in out["blocks"]
    ]
    assert sum((e - s).total_seconds() for s, e in blocks) == 4 * 3600
    days = [monday + timedelta(days=i) for i in range(7)]
    busy = [(_local(d, 9), _local(d, 10)) for d in days] + [(meeting, _local(monday, 11))]
    assert not [(b, x) for b in blocks for x in busy if b[0] < x[1] and x[0] < b[1]]
    return [w for w in out["warnings"] if "'spam'" in w]


def _meeting(at: datetime) -> str:
    return (
        f"UID:meeting\r\nDTSTART:{at.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\nSUMMARY:M"
    )


async def test_a_schedule_avoids_a_minutely_spam_series_on_the_server_and_a_meeting(
    state_for: States,
    db_session: AsyncSession,
    calendar_client_for: Clients,
    caldav_settings: CalendarSettings,
    raw_calendar: Any,
) -> None:
    """FREQ=MINUTELY;BYHOUR=9 from 300 days back (over 400,000 steps to the window's end)
    beside a meeting at 10:00: scheduling answered 503 for the whole calendar; now the
    blocks avoid both, and the response and /health say why. (MINUTELY: the servers
    themselves expand a series to filter it, and take seconds for a SECONDLY one.)"""
    monday = next_monday()
    meeting = _local(monday, 10)
    dtstart = f";TZID=Europe/Berlin:{monday - timedelta(days=300):%Y%m%d}T090000"
    _on_server(raw_calendar, series("spam", dtstart, "FREQ=MINUTELY;BYHOUR=9"), _meeting(meeting))
    async with calendar_client_for(state_for(caldav_settings)) as api:
        before = datetime.now(UTC).replace(microsecond=0)
        out = await _schedule(api, db_session, monday)
        health = (await api.get("/health")).json()["dependencies"]["calendar"]
        after = datetime.now(UTC)
    assert _avoided(out, monday, meeting), out["warnings"]
    assert health["status"] == "ok" and "'spam'" in health["detail"], health
    # The notice says when that read was (it had no age), as an aware ISO time.
    read_at = re.search(r"last read at (\S+): .*'spam'", health["detail"])
    assert read_at is not None, health
    when = datetime.fromisoformat(read_at.group(1))
    assert when.tzinfo is not None and before <= when <= after, (when, before, after)


async def test_an_import_with_a_secondly_spam_series_schedules_around_it_and_a_meeting(
    state_for: States, db_session: AsyncSession, calendar_client_for: Clients
) -> None:
    """The built-in calendar: importing a file holding FREQ=SECONDLY;BYHOUR=9 from a week
    back was a 422 for the whole file; now it is imported as busy stretches (the answer
    says so) and scheduling avoids them and the file's meeting."""
    monday = next_monday()
    meeting = _local(monday, 10)
    dtstart = f";TZID=Europe/Berlin:{monday - timedelta(days=7):%Y%m%d}T090000"
    body = vcalendar(series("spam", dtstart, "FREQ=SECONDLY;BYHOUR=9"), _meeting(meeting))
    begin = _local(monday, 0)
    window = {"start": begin.isoformat(), "end": (begin + timedelta(days=8)).isoformat()}
    async with calendar_client_for(state_for(BuiltinCalendarSettings())) as api:
        r = await api.post(
            "/api/v1/calendar/import",
            params=window,
            content=body,
            headers={"content-type": "text/calendar"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 9 and "'spam'" in r.json()["notes"][0], r.text
        out = await _schedule(api, db_session, monday)
    # The stretches are stored events now: the import said so, the schedule need not.
    assert not _avoided(out, monday, meeting)


# -- review: what the first cut of runs.py got wrong ---------------------------------------------


def test_until_before_dtstart_reads_no_occurrence_where_by_parts_exclude_dtstart() -> None:
    """UNTIL before DTSTART ends the series before it starts (the expander yields nothing);
    DTSTART outside BYHOUR was still read as one busy occurrence."""
    rule = "FREQ=MINUTELY;BYHOUR=9;UNTIL=20260302T065959Z"
    ical = vcalendar(series("s", ":20260302T070000Z", rule, "PT1M"))
    window = (utc(2026, 3, 2), utc(2026, 3, 3))
    dense, found = _runs(ical, window)
    assert spans(found) == _expanded(ical, window, dense.step) == []


@pytest.mark.parametrize("rule", ["FREQ=SECONDLY", "FREQ=MINUTELY;BYHOUR=9,10,11"])
def test_an_import_over_a_shifted_window_names_the_same_runs(rule: str) -> None:
    """A run was named after where the window cut it: importing the same file again with
    another window start (the default one follows the clock) stored it again as a new row.
    Now a run is named after its first occurrence, runs cut at midnight."""
    ical = vcalendar(series("spam", ":20260201T000000Z", rule))
    first = parse_ics(ical, window=(utc(2026, 3, 2, 9, 30), utc(2026, 3, 6)), zone=BERLIN)
    again = parse_ics(ical, window=(utc(2026, 3, 2, 9, 47), utc(2026, 3, 7)), zone=BERLIN)
    shared = {e.uid for e in again.events if e.start < utc(2026, 3, 6)}
    assert shared and shared <= {e.uid for e in first.events}
    assert spans(again.events)[0][0] == utc(2026, 3, 2, 9, 47)


def test_an_rdate_starting_where_a_run_starts_keeps_its_longer_period() -> None:
    """An RDATE at 09:00 lasting 3 hours got the UID of the run starting at 09:00 and was
    dropped for it: 10:00-12:00 was lost."""
    rdate = "RDATE;VALUE=PERIOD:20260303T080000Z/PT3H"
    nine = series("nine", ";TZID=Europe/Berlin:20260101T090000", "FREQ=MINUTELY;BYHOUR=9", "PT1M")
    parsed = parse_ics(
        vcalendar(f"{nine}\r\n{rdate}"), window=(utc(2026, 3, 2), utc(2026, 3, 5)), zone=BERLIN
    )
    assert (utc(2026, 3, 3, 8), utc(2026, 3, 3, 11)) in spans(parsed.events)


def test_runs_of_a_series_with_a_long_uid_are_named_within_the_column() -> None:
    """A UID of 255 characters (the column's size, String(255)) plus `#<start>` did not
    fit: the import could not store those runs."""
    ical = vcalendar(series("u" * MAX_UID, ":20260201T000000Z", "FREQ=MINUTELY;BYHOUR=9"))
    parsed = parse_ics(ical, window=(utc(2026, 3, 2), utc(2026, 3, 5)), zone=BERLIN)
    assert len(parsed.events) == 3 and all(len(e.uid) <= MAX_UID for e in parsed.events)


async def test_importing_a_spam_series_again_over_a_later_window_adds_no_rows(
    state_for: States, calendar_client_for: Clients
) -> None:
    """The default import window starts 30 days before now: each import of the same file
    stored the series' first run again under a new UID."""
    body = vcalendar(SPAM)
    monday = next_monday()
    end = _local(monday + timedelta(days=3), 0).isoformat()
    async with calendar_client_for(state_for(BuiltinCalendarSettings())) as api:
        out = []
        for start in (_local(monday, 0), _local(monday, 5) + timedelta(minutes=17)):
            r = await api.post(
                "/api/v1/calendar/import",
                params={"start": start.isoformat(), "end": end},
                content=body,
                headers={"content-type": "text/calendar"},
            )
            assert r.status_code == 200, r.text
            out.append(r.json())
    # Runs are cut at midnight in DTSTART's zone (UTC): the 4th is the hour before Monday.
    assert out[0]["created"] == 4
    assert (out[1]["created"], out[1]["updated"], out[1]["unchanged"]) == (0, 1, 2), out[1]


@pytest.mark.parametrize(
    "extra",
    [
        "RDATE:20260302T120000Z\r\nEXDATE:20260302T120000Z",
        "RDATE:20260302T120000Z\r\nEXDATE:20260302T000000Z,20260302T120000Z",
    ],
)
def test_an_rdate_removed_by_an_exdate_is_not_busy(extra: str) -> None:
    """EXDATE removes an RDATE as it removes a rule's occurrence (the expander agrees);
    the RDATE was still read as busy. (Found by comparing with the expander over random
    rules.)"""
    rule = "FREQ=MINUTELY;INTERVAL=5;BYHOUR=6"
    ical = vcalendar(series("s", ":20260302T060000Z", rule, "PT2M", extra))
    window = (utc(2026, 3, 2), utc(2026, 3, 3))
    dense, found = _runs(ical, window)
    assert spans(found) == _expanded(ical, window, dense.step)
    assert not [e for e in found if e.start.hour == 12]


def test_a_series_starting_in_the_year_9999_with_bymonthday_reads_as_nothing() -> None:
    """DTSTART on 31 December 9999 with BYMONTHDAY: finding the month's last day overflowed
    (OverflowError: a 500 for the import and the CalDAV read instead of no event)."""
    ical = vcalendar(series("far", ":99991231T230000Z", "FREQ=MINUTELY;BYMONTHDAY=1"))
    assert parse_ics(ical, window=WEEK, zone=BERLIN).events == []
    cal = CalDAVCalendar(url="http://127.0.0.1:9/", calendar="x", timezone="UTC")
    budget = RecurrenceBudget(CALDAV_LIMITS, cal._refuse, source="read")
    assert cal._occurrences(_stored(ical), *WEEK, budget) == []
