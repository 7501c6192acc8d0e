"""Preferences in plain words (issue 15, round 23): what the new phrasings must not read --
someone else's day, a one-off said in the past, number words that are no hours -- and the
response naming the memory each new phrasing was applied from."""

from __future__ import annotations

from datetime import time, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.scheduler.preference_numbers import spelled_as_digits
from almanac.scheduler.preferences import parse_preferences

from .conftest import Memories, make_plan, next_monday, parse

URL = "/api/v1/scheduler"


@pytest.mark.parametrize(
    "text",
    [
        # Said of someone else (as "Client calls start at 10" before): not the user's day.
        "the client works 6 hours a day",
        "my manager works 10 hours a day",
        "the client's team work 6 hours a day",
        "the client has a hard stop at 5",
        "the client is not available on Fridays",
        "Acme is unavailable on Mondays",
        "the kids have a 3pm finish",
        "the workshop has a 9am start",
        "Client calls start at nine",
        "the meeting starts at nine",
        # A one-off said in the past, not a standing rule (the rules have no notion of one
        # day's exception: it is read by whose it is, "a hard stop" had, not the user's).
        "I had a hard stop at 5 yesterday because of the dentist",
        "I worked 10 hours a day last week",
        # Availability for something is not the working day; a count is no clock.
        "I'm not available for calls on Fridays",
        "I work on 3 start-ups",
        "one of my clients starts late",
        "I talk to one client a day",
    ],
)
def test_near_misses_of_the_new_phrasings_set_nothing(text: str):
    parsed = parse_preferences([text])
    p = parsed.prefs
    said = (p.workday_start, p.workday_end, p.not_before, p.not_after)
    assert said == (None,) * 4 and p.working_days is None and p.day_hours == []
    assert (p.daily_max_hours, p.weekly_max_hours, p.buffer_minutes) == (None,) * 3
    assert parsed.applied == []


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("I work eight hours a day", "I work 8 hours a day"),
        ("start at nine", "start at 9"),
        ("between nine and five", "between 9 and 5"),
        ("I work nine to five", "I work 9 to 5"),
        ("half past nine", "9:30"),
        ("quarter to one", "12:45"),
        ("eleven o'clock", "11"),
        ("six-hour days", "6-hour days"),
        # No amount of hours, no clock: the words stay.
        ("one of my clients", "one of my clients"),
        ("no one before standup", "no one before standup"),
        ("two kids", "two kids"),
        ("half to nine", "half to 9"),
    ],
)
def test_number_words_of_hours_and_clocks_only_become_digits(text: str, digits: str):
    assert spelled_as_digits(text) == digits


def test_a_cap_said_as_my_work_for_one_client_caps_that_activity_not_all_work():
    parsed = parse_preferences(["I work 6 hours a day on Acme"])
    assert parsed.prefs.daily_max_hours is None and parsed.applied == []
    assert "not all work" in parsed.ignored[0]


def test_not_available_on_part_of_a_day_is_that_half_day_off():
    parsed = parse_preferences(["not available on Friday afternoons"])
    rules = [(r.weekdays, r.not_before, r.not_after) for r in parsed.prefs.day_hours]
    assert rules == [([4], None, time(12))] and parsed.prefs.working_days is None


def test_meetings_kept_out_of_monday_mornings_is_focus_time_on_mondays_only():
    windows = parse_preferences(["no meetings on Monday mornings"]).prefs.preferred_windows
    assert [(w.start, w.end, w.weekdays) for w in windows] == [(time(8), time(12), [0])]


def test_explicit_focus_time_wins_over_a_period_kept_from_meetings():
    text = "no meetings in the morning, deep work in the afternoon"
    windows = parse_preferences([text]).prefs.preferred_windows
    assert [(w.start, w.end) for w in windows] == [(time(13), time(18))]


async def test_the_response_names_the_memory_each_new_phrasing_was_applied_from(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    texts = (
        "hard stop at 5pm",
        "not available on Fridays",
        "I work six hours a day",
        "15 min after each meeting",
        "the client works 3 hours a day",
    )
    ids = await memory.add("preference", *texts)
    # 20 h: Monday to Thursday hold 24 h at 6 h a day, so Friday is never needed.
    tasks = [{"key": f"t{n}", "estimate_hours": 5.0} for n in range(4)]
    plan = await make_plan(db_session, tasks)
    body = {"plan_id": plan.id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    by_id = {m["fact_id"]: m for m in out["preferences"]["memories"]}
    lines = [[line.split(" (")[0] for line in by_id[i]["applied"]] for i in ids]
    assert lines == [
        ["nothing after 17:00"],
        ["no work on fridays"],
        ["at most 6 h a day"],
        ["15 min between blocks"],
        [],
    ]
    assert all(
        by_id[i]["applied"][0].endswith(f"({t!r})") for i, t in zip(ids[:4], texts[:4], strict=True)
    )
    assert out["unplaced"] == [] and out["blocks"]
    per_day: dict[int, timedelta] = {}
    for b in out["blocks"]:
        start, end = parse(b["start"]), parse(b["end"])
        assert start.weekday() != 4 and end.time() <= time(17), b
        per_day[start.weekday()] = per_day.get(start.weekday(), timedelta()) + end - start
    assert max(per_day.values()) <= timedelta(hours=6)
