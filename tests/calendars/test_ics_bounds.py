"""A hostile .ics cannot stall the server: expansion is bounded in steps, occurrences and
time, runs off the event loop, and each refusal is a 422 naming the event's UID."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from almanac.calendars.ics import IcsLimits, parse_ics, rule_steps
from almanac.errors import ValidationFailed

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = (NOW - timedelta(days=30), NOW + timedelta(days=180))


def stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def vcalendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n"


def secondly(uid: str, back: timedelta) -> str:
    return f"UID:{uid}\r\nDTSTART:{stamp(NOW - back)}\r\nRRULE:FREQ=SECONDLY\r\nSUMMARY:Spam"


@pytest.mark.parametrize("back", [timedelta(days=7), timedelta(days=365 * 100)])
def test_secondly_rule_far_back_is_refused_at_once_naming_its_uid(back: timedelta):
    started = time.perf_counter()
    with pytest.raises(ValidationFailed, match="'hostile-1'") as info:
        parse_ics(vcalendar(secondly("hostile-1", back)), window=WINDOW, zone=ZoneInfo("UTC"))
    assert time.perf_counter() - started < 0.5
    assert info.value.errors[0]["field"] == "body"
    assert "RRULE would expand" in info.value.message


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY;INTERVAL=99999999999999999999", "FREQ=NOPE", "FREQ=DAILY;INTERVAL=x"]
)
def test_an_unreadable_rrule_is_refused_naming_its_uid(rule: str):
    # icalendar reads RRULE lazily: its BrokenCalendarProperty escaped the walk, a 500.
    event = f"UID:bad-rule\r\nDTSTART:{stamp(NOW)}\r\nRRULE:{rule}\r\nSUMMARY:x"
    with pytest.raises(ValidationFailed, match="'bad-rule': cannot read its RRULE") as info:
        parse_ics(vcalendar(event), window=WINDOW, zone=ZoneInfo("UTC"))
    assert info.value.errors[0]["field"] == "body"


def test_ordinary_long_running_series_are_expanded_within_the_window_quickly():
    daily = "UID:standup\r\nDTSTART:19900101T090000Z\r\nDTEND:19900101T091500Z\r\nRRULE:FREQ=DAILY"
    weekly = (
        "UID:team\r\nDTSTART:20000103T100000Z\r\nDTEND:20000103T110000Z\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"
    )
    birthday = "UID:bday\r\nDTSTART;VALUE=DATE:19000101\r\nRRULE:FREQ=YEARLY"
    started = time.perf_counter()
    parsed = parse_ics(
        vcalendar(daily, weekly, birthday), window=WINDOW, zone=ZoneInfo("Europe/Berlin")
    )
    assert time.perf_counter() - started < 2
    uids = {e.uid.split("#")[0] for e in parsed.events}
    assert uids == {"standup", "team", "bday"}
    assert all(e.end > WINDOW[0] and e.start < WINDOW[1] for e in parsed.events)
    assert sum(e.uid.startswith("standup") for e in parsed.events) in range(209, 213)


def test_the_step_budget_is_shared_by_the_whole_file():
    # Each rule alone is within the budget; together they are not.
    # Each rule alone (about 46,000 days since 1900) is within the budget; three are not.
    daily = [f"UID:d{i}\r\nDTSTART:19000101T090000Z\r\nRRULE:FREQ=DAILY" for i in range(3)]
    limits = IcsLimits(max_rule_steps=100_000)
    parse_ics(vcalendar(*daily[:2]), window=WINDOW, zone=ZoneInfo("UTC"), limits=limits)
    with pytest.raises(ValidationFailed, match="event 'd2'.*per file"):
        parse_ics(vcalendar(*daily), window=WINDOW, zone=ZoneInfo("UTC"), limits=limits)


def test_occurrence_cap_and_time_budget_name_the_event():
    hourly = f"UID:busy\r\nDTSTART:{stamp(NOW)}\r\nRRULE:FREQ=HOURLY"
    with pytest.raises(ValidationFailed, match="'busy': more than 100 events"):
        parse_ics(vcalendar(hourly), window=WINDOW, zone=ZoneInfo("UTC"), limits=IcsLimits(100))
    many = [f"UID:e{i}\r\nDTSTART:{stamp(NOW + timedelta(hours=i))}" for i in range(300)]
    limits = IcsLimits(time_budget_seconds=1e-6)
    with pytest.raises(ValidationFailed, match=r"event 'e\d+': expanding the file took longer"):
        parse_ics(vcalendar(*many), window=WINDOW, zone=ZoneInfo("UTC"), limits=limits)


def test_rule_steps_bounds_the_walk_from_dtstart():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    week = start + timedelta(days=7)
    assert rule_steps({"FREQ": ["SECONDLY"]}, start, week) == 7 * 86_400 + 1
    assert rule_steps({"FREQ": ["DAILY"], "INTERVAL": [2]}, start, week) == 4
    assert rule_steps({"FREQ": ["DAILY"], "UNTIL": [start + timedelta(days=2)]}, start, week) == 3
    # BY* rules multiply what one period expands to.
    assert rule_steps({"FREQ": ["YEARLY"], "BYDAY": ["MO"], "BYHOUR": [9, 10]}, start, week) == 732


async def test_import_of_a_hostile_file_is_422_and_health_stays_quick(
    client: httpx.AsyncClient,
):
    # Within the step budget, so it really expands (a day of seconds) before the occurrence
    # cap refuses it: the work the event loop must not wait for.
    body = vcalendar(secondly("hostile-2", timedelta(hours=20)))
    window = {"start": (NOW - timedelta(days=1)).isoformat(), "end": NOW.isoformat()}
    headers = {"content-type": "text/calendar"}
    health_times: list[float] = []

    async def poll_health(done: asyncio.Event) -> None:
        while not done.is_set():
            started = time.perf_counter()
            r = await client.get("/health")
            health_times.append(time.perf_counter() - started)
            assert r.status_code in (200, 503)
            await asyncio.sleep(0.02)

    for _ in range(3):  # warm: the first /health probes the calendar and the embedder
        assert (await client.get("/health")).status_code == 200
    done = asyncio.Event()
    poller = asyncio.create_task(poll_health(done))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    r = await client.post("/api/v1/calendar/import", params=window, content=body, headers=headers)
    took = time.perf_counter() - started
    done.set()
    await poller
    assert r.status_code == 422, r.text
    assert "hostile-2" in r.json()["detail"]
    # /health answered throughout the import (`took` is how long the refusal took).
    assert took < 30, took
    assert len(health_times) >= 3
    assert sorted(health_times)[len(health_times) // 2] < 0.1
    # A stalled event loop would hold /health for the whole expansion; a shared CI machine
    # may still delay one poll, so the bound on the slowest is loose.
    assert max(health_times) < 2.0, health_times


def timed(uid: str, prop: str = "DTSTART", tzid: str = "Mars/Base") -> str:
    day = (NOW + timedelta(days=2)).strftime("%Y%m%d")
    lines = [f"UID:{uid}", "SUMMARY:x", f"DTSTART;TZID=Europe/Berlin:{day}T100000"]
    lines.append(f"DTEND;TZID=Europe/Berlin:{day}T110000")
    if prop == "EXDATE":
        lines += ["RRULE:FREQ=DAILY;COUNT=3", f"EXDATE;TZID={tzid}:{day}T100000"]
    else:
        lines = [line for line in lines if not line.startswith(prop)]
        lines.append(f"{prop};TZID={tzid}:{day}T{'10' if prop == 'DTSTART' else '11'}0000")
    return "\r\n".join(lines)


@pytest.mark.parametrize("prop", ["DTSTART", "DTEND", "EXDATE"])
def test_an_unknown_tzid_is_refused_naming_it_and_the_event(prop: str):
    """icalendar reads a time with an unknown TZID as floating: the event was imported at
    that wall-clock time in the user's zone, silently."""
    with pytest.raises(ValidationFailed, match="unknown time zone 'Mars/Base'") as info:
        parse_ics(vcalendar(timed("martian", prop)), window=WINDOW, zone=ZoneInfo("Asia/Tokyo"))
    assert "'martian'" in info.value.message and prop in info.value.message
    assert info.value.errors[0]["field"] == "body"


def test_zones_icalendar_knows_or_the_file_defines_are_read():
    windows = timed("windows", "DTSTART", "W. Europe Standard Time")
    defined = vcalendar(timed("defined")).replace(
        "BEGIN:VEVENT",
        "BEGIN:VTIMEZONE\r\nTZID:Mars/Base\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nTZNAME:MBT\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\nBEGIN:VEVENT",
        1,
    )
    parsed = parse_ics(vcalendar(windows), window=WINDOW, zone=ZoneInfo("UTC")).events
    assert [e.start.utcoffset() for e in parsed] == [timedelta(hours=1)]
    parsed = parse_ics(defined, window=WINDOW, zone=ZoneInfo("UTC")).events
    assert [e.start.utcoffset() for e in parsed] == [timedelta(hours=3)]


async def test_import_with_an_unknown_tzid_is_a_422_and_stores_nothing(client: httpx.AsyncClient):
    headers = {"content-type": "text/calendar"}
    body = vcalendar(timed("ok-event", "DTEND", "Europe/Berlin"), timed("martian"))
    r = await client.post("/api/v1/calendar/import", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert "'Mars/Base'" in r.json()["detail"] and "'martian'" in r.json()["detail"]
    window = {"start": WINDOW[0].isoformat(), "end": WINDOW[1].isoformat()}
    r = await client.get("/api/v1/calendar/events", params=window)
    assert r.status_code == 200 and r.json() == [], r.text


def test_a_counted_rule_far_back_is_bounded_by_its_count():
    """FREQ=MINUTELY;COUNT=5 from a year back walks 5 steps; the estimate counted the whole
    year (525,600) and refused the file."""
    event = f"UID:five\r\nDTSTART:{stamp(NOW - timedelta(days=365))}\r\nRRULE:FREQ=MINUTELY;COUNT=5"
    assert parse_ics(vcalendar(event + "\r\nSUMMARY:x"), window=WINDOW, zone=ZoneInfo("UTC"))
    start = NOW - timedelta(days=365)
    assert rule_steps({"FREQ": ["MINUTELY"], "COUNT": [5]}, start, NOW) == 5
    # With a BY* filter COUNT bounds occurrences, not steps: the whole walk still counts.
    filtered = {"FREQ": ["MINUTELY"], "COUNT": [5], "BYMONTH": [2]}
    assert rule_steps(filtered, start, NOW) > 500_000
