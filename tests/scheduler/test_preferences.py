"""Preferences: the deterministic rules, the LLM path with its fallback, and their effect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time, timedelta
from time import perf_counter as time_now
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.llm.base import (
    LLMCallRecord,
    LLMClient,
    LLMUnavailable,
    Message,
    Prompt,
    StructuredResult,
)
from almanac.scheduler.preference_clauses import MAX_CLAUSES
from almanac.scheduler.preferences import parse_preferences
from almanac.scheduler.schemas import PreferredWindowIn, SchedulingPreferences
from almanac.state import AppState

from .conftest import Memories, make_plan, next_monday, parse

URL = "/api/v1/scheduler"


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("I work 9-17", "workday_start", time(9)),
        ("I work 9-17", "workday_end", time(17)),
        ("working hours 8:30 to 16:00", "workday_start", time(8, 30)),
        ("work 9am-5pm", "workday_end", time(17)),
        ("work 9-5", "workday_end", time(17)),
        ("No meetings before 10", "not_before", time(10)),
        ("no calls after 4pm", "not_after", time(16)),
        ("max 6 hours a day", "daily_max_hours", 6.0),
        ("At most 5.5 h per day of focus", "daily_max_hours", 5.5),
        ("15 minutes between blocks", "buffer_minutes", 15),
        ("buffer of 10 min please", "buffer_minutes", 10),
        ("no work on fridays", "working_days", [0, 1, 2, 3]),
        # The common phrasings of each kind (issue 15's table).
        ("No more than 8 hours of focused work per day", "daily_max_hours", 8.0),
        ("I don't want to work more than 7 hours a day", "daily_max_hours", 7.0),
        ("limit my work to 6 hours per day", "daily_max_hours", 6.0),
        ("6 hours a day max", "daily_max_hours", 6.0),
        ("daily maximum: 6 hours", "daily_max_hours", 6.0),
        ("cap my work at 5.5 hours per day", "daily_max_hours", 5.5),
        ("at most 6h per day", "daily_max_hours", 6.0),
        ("I start at 8:30", "not_before", time(8, 30)),
        ("don't schedule anything before 9am", "not_before", time(9)),
        ("nothing after 6pm", "not_after", time(18)),
        ("stop at 17:00", "not_after", time(17)),
        ("finish by 5pm", "not_after", time(17)),
        ("No work on weekends", "working_days", [0, 1, 2, 3, 4]),
        ("I don't work Fridays", "working_days", [0, 1, 2, 3]),
        ("Fridays are off", "working_days", [0, 1, 2, 3]),
        ("never on Mondays", "working_days", [1, 2, 3, 4]),
        ("15 minutes between meetings", "buffer_minutes", 15),
        ("10 min break after calls", "buffer_minutes", 10),
        # More of a consultant's phrasings, each ignored by the rules before.
        ("keep Fridays free", "working_days", [0, 1, 2, 3]),
        ("No weekends.", "working_days", [0, 1, 2, 3, 4]),
        ("Mondays and Fridays off", "working_days", [1, 2, 3]),
        ("I stop working at 5pm", "not_after", time(17)),
        ("no later than 6pm", "not_after", time(18)),
        ("not later than 18:00", "not_after", time(18)),
        ("I work until 5pm", "not_after", time(17)),
        ("my day ends at 6pm", "not_after", time(18)),
        ("I'm done by 6pm", "not_after", time(18)),
        ("no earlier than 9", "not_before", time(9)),
        ("my day starts at 8:30", "not_before", time(8, 30)),
        ("my hours are 9 to 5", "workday_end", time(17)),
        ("I work between 9 and 5", "workday_end", time(17)),
        ("I work between 8.30am and 4pm", "workday_start", time(8, 30)),
        ("I'm available 8:30-16:30", "workday_start", time(8, 30)),
        ("office hours 9.30-17.30", "workday_start", time(9, 30)),
        ("office hours 9.30-17.30", "workday_end", time(17, 30)),
        ("max 8h/day", "daily_max_hours", 8.0),
        ("max. 6 hours a day", "daily_max_hours", 6.0),
        ("at most 8 hours daily", "daily_max_hours", 8.0),
        ("8h max per day", "daily_max_hours", 8.0),
        ("6h/day max", "daily_max_hours", 6.0),
        ("15-minute buffer between meetings", "buffer_minutes", 15),
        ("10-minute breaks between tasks", "buffer_minutes", 10),
        ("buffer: 15 minutes", "buffer_minutes", 15),
        ("15 min buffer", "buffer_minutes", 15),
        # Misread before: the half hour dropped, a bare "5" read as 05:00, "p.m." ignored,
        # and only the first of two days kept.
        ("not before 9.30", "not_before", time(9, 30)),
        ("stop at 5", "not_after", time(17)),
        ("no meetings after 4", "not_after", time(16)),
        ("finish work at 6:30", "not_after", time(18, 30)),
        ("stop at 5 p.m.", "not_after", time(17)),
        ("start at 8 a.m.", "not_before", time(8)),
        ("no work on Fridays or Mondays", "working_days", [1, 2, 3]),
        ("I don't work Mondays and Fridays", "working_days", [1, 2, 3]),
        ("no work on Mondays, Wednesdays and Fridays", "working_days", [1, 3]),
        ("No Sundays!", "working_days", [0, 1, 2, 3, 4]),
        ("our calls finish by 3, I stop at 6", "not_after", time(18)),
        ("no Friday work", "working_days", [0, 1, 2, 3]),
        # The pm of the range's end is the start's too when it has none and fits before it:
        # "work 1-5pm" was 01:00-17:00.
        ("I work 1-5pm", "workday_start", time(13)),
        ("I work 1:30-5:30pm", "workday_start", time(13, 30)),
        ("working hours 9-5pm", "workday_start", time(9)),
        ("working hours 12-6pm", "workday_start", time(12)),
        ("I work 8-11pm", "workday_start", time(20)),
        # More of a consultant's phrasings, not read before.
        ("done by 6pm", "not_after", time(18)),
        ("I log off at 5:30", "not_after", time(17, 30)),
        ("I don't work past 7", "not_after", time(19)),
        ("no work past 6pm", "not_after", time(18)),
        ("work 9-5 Mon-Fri", "workday_end", time(17)),
        ("I work 9-5 Monday through Friday", "workday_start", time(9)),
        ("Ideally, stop at 5", "not_after", time(17)),
        ("I don't want meetings after 4", "not_after", time(16)),
        ("no standups before 10", "not_before", time(10)),
        # Issue 15, round 3: not read before ("I leave at 5", a weekly cap), or "sat" and
        # "sun" read as days inside a sentence (the end held on Saturdays or Sundays only).
        ("I leave at 5", "not_after", time(17)),
        ("I leave at 5pm", "not_after", time(17)),
        ("I leave the office at 6", "not_after", time(18)),
        ("I'm out by 6", "not_after", time(18)),
        ("max 40h/week", "weekly_max_hours", 40.0),
        ("no more than 35 hours a week", "weekly_max_hours", 35.0),
        ("I sat down with my coach: I stop at 5", "not_after", time(17)),
        ("the sun is out, so I stop at 6", "not_after", time(18)),
        # A limit on calls is read like one on meetings: the working day's (see the report
        # of issue 15's round 3: the scheduler places no meetings, only work blocks).
        ("no calls before 10", "not_before", time(10)),
        # A dotted clock whose minutes no month has is a clock ("15.12" is not: a date).
        ("stop at 17.45", "not_after", time(17, 45)),
        # Round 22: each was not understood.
        ("I begin at 9", "not_before", time(9)),
        ("I start work around 8", "not_before", time(8)),
        ("work starts at 9", "not_before", time(9)),
        ("I log on at 8", "not_before", time(8)),
        ("I clock in at 8:30", "not_before", time(8, 30)),
        ("I'm online from 8", "not_before", time(8)),
        ("I don't take meetings before 10", "not_before", time(10)),
        ("latest finish 6pm", "not_after", time(18)),
        ("I'm off at 5", "not_after", time(17)),
        ("I clock off at 5", "not_after", time(17)),
        ("I knock off at 5:30", "not_after", time(17, 30)),
        ("I'm offline after 6", "not_after", time(18)),
        ("done for the day at 5:30", "not_after", time(17, 30)),
        ("10 minutes between each meeting", "buffer_minutes", 10),
        ("30 mins between client calls", "buffer_minutes", 30),
        ("15m between meetings", "buffer_minutes", 15),
        ("half an hour between meetings", "buffer_minutes", 30),
        ("15 min gaps", "buffer_minutes", 15),
        ("Fridays are my day off", "working_days", [0, 1, 2, 3]),
        ("Friday is my day off", "working_days", [0, 1, 2, 3]),
        ("My day off is Friday", "working_days", [0, 1, 2, 3]),
        ("Saturdays and Sundays are my days off", "working_days", [0, 1, 2, 3, 4]),
        ("I'm off Fridays", "working_days", [0, 1, 2, 3]),
        ("No work Fridays", "working_days", [0, 1, 2, 3]),
        # Round 22: read already (kept so).
        ("I'm done by 6 most days", "not_after", time(18)),  # the usual day, like "usually"
        ("I start at 8:30", "not_before", time(8, 30)),
        ("I don't start before 9", "not_before", time(9)),
        ("Not before 10 please", "not_before", time(10)),
        ("I log off at 6", "not_after", time(18)),
        ("I don't work past 6pm", "not_after", time(18)),
        ("max 6h/day", "daily_max_hours", 6.0),
        ("6 hours a day max", "daily_max_hours", 6.0),
        ("my daily limit is 6 hours", "daily_max_hours", 6.0),
        ("Don't schedule more than 6 hours a day", "daily_max_hours", 6.0),
        ("keep 15 min between calls", "buffer_minutes", 15),
        ("leave a 10 minute gap between calls", "buffer_minutes", 10),
        ("I don't work weekends", "working_days", [0, 1, 2, 3, 4]),
        ("Weekends off", "working_days", [0, 1, 2, 3, 4]),
        ("no weekend work", "working_days", [0, 1, 2, 3, 4]),
        ("I take Fridays off", "working_days", [0, 1, 2, 3]),
        # Round 27: each was not understood ("for me" read as what the day is kept for).
        ("Fridays are off for me", "working_days", [0, 1, 2, 3]),
        ("Weekends are off for me", "working_days", [0, 1, 2, 3, 4]),
        ("Off every Friday", "working_days", [0, 1, 2, 3]),
        ("I'm off every Friday", "working_days", [0, 1, 2, 3]),
        ("Every Friday is off", "working_days", [0, 1, 2, 3]),
        ("Friday is a day off", "working_days", [0, 1, 2, 3]),
        ("Fridays are days off for me", "working_days", [0, 1, 2, 3]),
        # Round 23: each was not understood. Number words (one to twelve) of hours or clocks.
        ("I work eight hours a day", "daily_max_hours", 8.0),
        ("no more than six hours of focus a day", "daily_max_hours", 6.0),
        ("start at nine", "not_before", time(9)),
        ("I stop at six", "not_after", time(18)),
        ("start at half past nine", "not_before", time(9, 30)),
        ("I finish at quarter to six", "not_after", time(17, 45)),
        ("I work nine to five", "workday_end", time(17)),
        ("nothing before ten o'clock", "not_before", time(10)),
        # A hard stop, a clock said before its start or finish, a cap said as a limit.
        ("hard stop at 5", "not_after", time(17)),
        ("hard stop at 5pm", "not_after", time(17)),
        ("My hard stop is 6pm", "not_after", time(18)),
        ("9am start, 5pm finish", "not_before", time(9)),
        ("9am start, 5pm finish", "not_after", time(17)),
        ("8:30 start", "not_before", time(8, 30)),
        ("6h per day is my limit", "daily_max_hours", 6.0),
        ("6 hours a day is the max", "daily_max_hours", 6.0),
        ("I work 6 hours a day", "daily_max_hours", 6.0),
        ("I work 40 hours a week", "weekly_max_hours", 40.0),
        ("not available on Fridays", "working_days", [0, 1, 2, 3]),
        ("I'm unavailable on Mondays", "working_days", [1, 2, 3, 4]),
        ("15 min after each meeting", "buffer_minutes", 15),
        ("10 minutes before every call", "buffer_minutes", 10),
    ],
)
def test_rules_read_common_phrasings(text: str, field: str, value: Any):
    parsed = parse_preferences([text])
    assert getattr(parsed.prefs, field) == value
    assert parsed.applied and parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("deep work in the morning", (time(8), time(12))),
        ("focus time before noon", (time(8), time(12))),
        ("I focus best in the mornings", (time(8), time(12))),
        ("deep work after lunch", (time(13), time(18))),
        ("mornings for focus", (time(8), time(12))),
        ("Mornings are for deep work", (time(8), time(12))),
        ("afternoons are reserved for focus time", (time(13), time(18))),
        ("schedule focus time before lunch", (time(8), time(12))),
        # Round 22: not understood.
        ("I do my best work in the morning", (time(8), time(12))),
        ("mornings: deep work", (time(8), time(12))),
        ("mornings are protected for deep work", (time(8), time(12))),
        # Round 22: read already (kept so).
        ("mornings are for deep work", (time(8), time(12))),
        ("keep mornings for deep work", (time(8), time(12))),
        ("No meetings before 10, deep work in the mornings", (time(8), time(12))),
        ("deep work in the mornings, no calls", (time(8), time(12))),
        # Round 23: not understood. The scheduler places blocks of work, no meetings: a
        # period kept from meetings is kept for that work, read as focus time (as "no
        # meetings before 10" is the working day's start: no block is a meeting).
        ("keep mornings free for focus", (time(8), time(12))),
        ("No meetings in the morning", (time(8), time(12))),
        ("no calls in the afternoons", (time(13), time(18))),
        ("keep my mornings free of meetings", (time(8), time(12))),
        # Round 34 (an outside probe): a clock bounding the focus time, not understood.
        ("Mornings before 11 are for deep work", (time(8), time(11))),
        ("deep work before 10:30am", (time(8), time(10, 30))),
        ("focus time until 1pm", (time(8), time(13))),
        ("deep work after 3pm", (time(15), time(18))),
        ("afternoons after 2 are for focus", (time(14), time(18))),
        ("deep work after 9am until 11am", (time(9), time(11))),
        ("no meetings in the mornings before 10, deep work after lunch", (time(13), time(18))),
        # Session 35 (from round 34's probe): noon and midday as a clock, not understood.
        ("Deep work until noon", (time(8), time(12))),
        ("focus time till midday", (time(8), time(12))),
        ("deep work before midday", (time(8), time(12))),
        ("deep work after noon", (time(13), time(18))),
    ],
)
def test_focus_phrasings(text: str, window: tuple[time, time]):
    windows = parse_preferences([text]).prefs.preferred_windows
    assert [(w.start, w.end) for w in windows] == [window]


@pytest.mark.parametrize(
    "text",
    [
        "No deep work in the afternoon",
        "avoid deep work in the afternoons",
        "no focus work in the mornings",
        "never schedule deep work after lunch",
        "deep work should not be in the morning",
        "I can't focus in the afternoon",
        "don't put focus time in the afternoon",
    ],
)
def test_focus_time_said_as_not_wanted_is_not_preferred_there(text: str):
    # Each was read as deep work preferred in the very period it was not wanted in.
    parsed = parse_preferences([text])
    assert parsed.prefs.preferred_windows == [] and parsed.applied == []
    (why,) = parsed.ignored
    assert "said as not wanted" in why and why.endswith(f"({text!r})")


@pytest.mark.parametrize(
    "text",
    [
        "The builders knock off at 4",
        "the kids are done for the day at 3",
        "Client calls begin at 10",
        "I'm off at 12 for lunch",
        "I'm off Friday mornings",
    ],
)
def test_new_start_and_end_words_said_of_others_or_a_pause_set_no_day(text: str):
    p = parse_preferences([text]).prefs
    assert (p.not_before, p.not_after, p.working_days) == (None, None, None)


@pytest.mark.parametrize(
    "text", ["I need 30 minutes after the meeting with Acme", "I'm offline from 12 to 1 for lunch"]
)
def test_one_meeting_or_a_pause_sets_neither_a_buffer_nor_an_end(text: str):
    p = parse_preferences([text]).prefs
    assert (p.buffer_minutes, p.not_after) == (None, None)


@pytest.mark.parametrize(
    "text",
    [
        "No meetings before 10 deep work in the mornings",
        "I don't like meetings — deep work in the mornings",
        "deep work in the mornings without interruptions",
    ],
)
def test_a_negation_of_something_else_leaves_focus_time_preferred(text: str):
    windows = parse_preferences([text]).prefs.preferred_windows
    assert [(w.start, w.end) for w in windows] == [(time(8), time(12))]


@pytest.mark.parametrize(
    "text",
    [
        "Fridays are free for deep work",
        "keep Mondays free of calls",
        "Friday afternoons are free of calls",
        "Friday is free",  # free to meet, perhaps: not said as a day off
        "Fridays are off for the team",
    ],
)
def test_part_of_a_day_is_not_read_as_the_whole_day(text: str):
    # "no work on friday afternoons" took every Friday off; a day kept for something is not
    # a day off either.
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days is None and parsed.prefs.day_hours == []
    assert parsed.not_understood == [text]


@pytest.mark.parametrize(
    "text",
    [
        # Review of round 27: each took every Friday off.
        "Sarah is off every Friday",
        "My assistant is off every Friday",
        "The gym is off on Fridays",
        "Friday is off-site",
        "Every Friday is off-site",
        "Friday is off-limits",
        "Friday is off limits for meetings",
        "Friday is off the table",
        "Fridays are off the table for travel",
        "Fridays are off for me after 2",
        "Fridays are off for me until noon",
    ],
)
def test_someone_elses_day_or_a_place_or_part_of_a_day_is_no_day_off(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days is None
    assert parsed.not_understood == [text]


def test_part_of_a_day_kept_for_focus_is_focus_time_on_that_day_not_a_day_off():
    # Issue 15, round 23: "free for focus" is focus time ("keep mornings free for focus"),
    # here on Friday afternoons only; it was not understood.
    parsed = parse_preferences(["keep Friday afternoons free for deep work"])
    p = parsed.prefs
    assert p.working_days is None and p.day_hours == []
    assert [(w.start, w.end, w.weekdays) for w in p.preferred_windows] == [
        (time(13), time(18), [4])
    ]


@pytest.mark.parametrize(
    ("text", "day_hours"),
    [
        # Half a day off holds on that day only (the rules could not say it before).
        ("no work on friday afternoons", [([4], None, time(12))]),
        ("keep Friday afternoons free", [([4], None, time(12))]),
        ("keep Friday afternoons free for me", [([4], None, time(12))]),
        ("Friday afternoons are off for me", [([4], None, time(12))]),
        ("Friday afternoons off", [([4], None, time(12))]),
        ("no work on Monday mornings", [([0], time(12), None)]),
        # Hours said for some days: they held on every day before.
        ("No work before 9 on Mondays", [([0], time(9), None)]),
        ("work until 5 on Fridays", [([4], None, time(17))]),
        ("On Fridays I stop at 3", [([4], None, time(15))]),
        ("Fri: finish by 2pm", [([4], None, time(14))]),
        ("no calls before 10 on Mondays and Wednesdays", [([0, 2], time(10), None)]),
        ("no Monday calls before 10", [([0], time(10), None)]),
        ("no work friday afternoons", [([4], None, time(12))]),
        ("Mondays I start at 10", [([0], time(10), None)]),
        # The day said before the hour: three words between "no"/"never" and "after".
        ("I never work on Fridays after 3pm", [([4], None, time(15))]),
        ("No work on Fridays after 3pm", [([4], None, time(15))]),
        ("Never work after 15:00 on Fridays", [([4], None, time(15))]),
        ("no calls on Mondays before 10", [([0], time(10), None)]),
        # "<day>s off after <time>" and "off <day> afternoons" (the brief's own wording)
        # were not understood, and Friday afternoons were used.
        ("Fridays off after 13:00", [([4], None, time(13))]),
        ("Fridays off after 1pm", [([4], None, time(13))]),
        ("Fridays off from 1pm", [([4], None, time(13))]),
        ("Off Friday afternoons", [([4], None, time(12))]),
    ],
)
def test_hours_said_for_some_days_hold_on_those_days(text: str, day_hours: list[Any]):
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert [(r.weekdays, r.not_before, r.not_after) for r in p.day_hours] == day_hours
    assert (p.not_before, p.not_after, p.working_days) == (None, None, None)
    assert parsed.applied and parsed.not_understood == [] and parsed.ignored == []


_WEEK = (time(9), time(17))


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # Issue 15, round 3: the hours for every day were refused ("said for Fridays only")
        # and only the Friday clause applied, or both refused ("cannot tell which").
        ("I work 8-6, on Fridays I finish at 2", [(time(8), time(18))] * 4 + [(time(8), time(14))]),
        ("I work 9-5, on Fridays I finish at 1", [_WEEK] * 4 + [(time(9), time(13))]),
        ("On Fridays I finish at 1, I work 8-6", [(time(8), time(18))] * 4 + [(time(8), time(13))]),
        ("On Fridays, I stop at 3", [_WEEK] * 4 + [(time(9), time(15))]),
        ("I stop at 4 on Fridays and 5 otherwise", [_WEEK] * 4 + [(time(9), time(16))]),
        # A latest hour narrows the settings' day, never widens it (as "stop at 6" alone).
        ("I stop at 4 on Fridays and 6 otherwise", [_WEEK] * 4 + [(time(9), time(16))]),
        (
            "I stop at 4 on Fridays and 3 otherwise",
            [(time(9), time(15))] * 4 + [(time(9), time(16))],
        ),
        ("Monday to Thursday 8-6, Fridays 8-2", [(time(8), time(18))] * 4 + [(time(8), time(14))]),
        (
            "On Mondays I start at 10, on Fridays I finish at 3",
            [(time(10), time(17))] + [_WEEK] * 3 + [(time(9), time(15))],
        ),
        (
            "No work before 10 on Mondays and no work after 3 on Fridays",
            [(time(10), time(17))] + [_WEEK] * 3 + [(time(9), time(15))],
        ),
        (
            "Monday to Thursday I work 8-6, Fridays 8-2",
            [(time(8), time(18))] * 4 + [(time(8), time(14))],
        ),
        (
            "I work 8-6 Monday to Thursday and 8-2 on Fridays",
            [(time(8), time(18))] * 4 + [(time(8), time(14))],
        ),
        # A day's own hours override the others' for that day, earlier or later too.
        ("I work 9-5, Fridays 8-6", [_WEEK] * 4 + [(time(8), time(18))]),
        ("I work 9-5, on Fridays I start at 8", [_WEEK] * 4 + [(time(8), time(17))]),
        ("I start at 9, on Fridays at 8", [_WEEK] * 4 + [(time(8), time(17))]),
        ("On Fridays I work 9-1", [_WEEK] * 4 + [(time(9), time(13))]),
    ],
)
def test_hours_for_every_day_and_a_days_own_hours_both_hold(
    text: str, windows: list[tuple[time, time]]
):
    parsed = parse_preferences([text])
    p = parsed.prefs
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == windows
    assert parsed.applied and parsed.ignored == [] and parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            "I work 9-5, on Fridays I finish at 1",
            ["working hours 09:00-17:00", "on Fridays nothing after 13:00"],
        ),
        # Not "nothing before 09:00" for every day: Fridays start at 8.
        (
            "I start at 9, on Fridays at 8",
            ["on Mondays to Thursdays nothing before 09:00", "on Fridays nothing before 08:00"],
        ),
    ],
)
def test_the_hours_of_every_day_and_of_fridays_are_each_listed(text: str, lines: list[str]):
    assert [line.split(" (")[0] for line in parse_preferences([text]).applied] == lines


@pytest.mark.parametrize(
    "text",
    [
        "I stop at 5 except on Fridays",
        "max 4 hours a day on Fridays",
        "15 minutes between meetings on Mondays",
    ],
)
def test_what_the_rules_cannot_scope_to_its_days_is_not_applied_to_every_day(text: str):
    # Each held on every day: "stop at 5 except on Fridays" stopped Fridays at 5 too.
    parsed = parse_preferences([text])
    p = parsed.prefs
    said = (p.not_before, p.not_after, p.workday_start, p.daily_max_hours, p.buffer_minutes)
    assert said == (None,) * 5 and p.day_hours == []
    assert parsed.applied == [] and len(parsed.ignored) == 1


@pytest.mark.parametrize(
    "text", ["no more than 3 hours in meetings per day", "at most 2 hours of calls a day"]
)
def test_a_cap_on_meetings_is_not_a_cap_on_work(text: str):
    # Read as "at most 3 h a day" of work: a deep-work week cut to 3 hours a day. Now the
    # response says why it is not applied (it said "not understood" before).
    parsed = parse_preferences([text])
    assert parsed.prefs.daily_max_hours is None and parsed.applied == []
    assert parsed.not_understood == [] and "not all work" in parsed.ignored[0]


@pytest.mark.parametrize(
    "text",
    [
        "max 2h/day of email",
        "max 2 hours of email a day",
        "at most 1 hour a day for admin",
        "limit email to 1 hour per day",
        "cap Slack at 30 hours per day",
        "no more than 6 hours a day for Acme",
        # Issue 15, round 3: a bare noun after the amount capped all work.
        "Max 2h/day email",
        "max 1 hour a day Slack.",
        "max 10h/week email",
    ],
)
def test_a_cap_on_one_activity_is_not_a_cap_on_all_work(text: str):
    # Each capped every day's work ("max 2h/day of email": 2 hours of work a day).
    parsed = parse_preferences([text])
    assert parsed.prefs.daily_max_hours is None and parsed.prefs.weekly_max_hours is None
    assert parsed.applied == []
    assert parsed.not_understood == [] and "not all work" in parsed.ignored[0]


@pytest.mark.parametrize(
    "text",
    [
        "I bill at most 6 hours a day",
        "I invoice max 6 hours per day",
        "I bill no more than 30 hours a week",
    ],
)
def test_a_cap_on_billed_hours_is_not_a_cap_on_all_work(text: str):
    # "I bill at most 6 hours a day" capped all work at 6 hours a day: the core has a
    # weekly billable share target (a sprint's), no limit on billed hours to map it to.
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert (p.daily_max_hours, p.weekly_max_hours, parsed.applied) == (None, None, [])
    [reason] = parsed.ignored
    assert "billed work is not a cap on all work" in reason and "no limit on billed" in reason


@pytest.mark.parametrize(
    "text", ["lunch break 60 min", "break of 45 min for lunch", "coffee break: 15 min"]
)
def test_a_meal_break_is_not_a_buffer(text: str):
    # "lunch break 60 min" was 60 minutes between every two blocks.
    parsed = parse_preferences([text])
    assert parsed.prefs.buffer_minutes is None and parsed.applied == []
    assert "not a buffer" in parsed.ignored[0]


@pytest.mark.parametrize(
    ("texts", "end"),
    [
        (["stop at 9"], time(21)),
        (["start at 10", "finish at 9:30"], time(21, 30)),
        (["start at 10", "I work until 10"], time(22)),
        # A morning end that leaves less than 3 hours is no sensible day: "I finish at 10"
        # was a one-hour day.
        (["I finish at 10"], time(22)),
        (["stop at 11"], time(23)),
        (["I work 7-15", "stop at 9"], time(21)),
        (["I work 7-15", "stop at 11"], time(11)),  # a 4-hour morning: read as said
        (["stop at 11am"], time(11)),
        (["stop at 09:30"], time(9, 30)),
    ],
)
def test_a_bare_latest_hour_at_or_before_the_earliest_is_pm(texts: list[str], end: time):
    # "stop at 9" was 09:00 in a day that starts at 9 (only a bare hour up to 8 was pm).
    parsed = parse_preferences(texts, hours=(time(9), time(17)))
    assert parsed.prefs.not_after == end and parsed.ignored == []


@pytest.mark.parametrize(
    "text",
    [
        # Each read as a limit on all work before.
        "no caffeine after 2pm",
        "I don't eat before 10",
        "don't send emails after 6pm",
        "don't book flights before 8am",
        "Client calls start at 10",
        "the kids finish at 3",
        "client work 9-12",
        "admin work 2-4pm",
        "I never eat after 8pm",
        "no caffeine on Fridays after 2pm",
    ],
)
def test_what_others_do_or_what_is_not_work_sets_no_hours(text: str):
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert (p.workday_start, p.workday_end, p.not_before, p.not_after) == (None,) * 4
    assert parsed.applied == []


@pytest.mark.parametrize(
    ("text", "window"),
    [("deep work 9-12", (time(9), time(12))), ("focus time 1-4pm", (time(13), time(16)))],
)
def test_focus_hours_are_a_preference_not_the_working_day(text: str, window: tuple[time, time]):
    # "deep work 9-12" was working hours 09:00-12:00: a three-hour working day.
    parsed = parse_preferences([text])
    assert parsed.prefs.workday_start is None and parsed.prefs.workday_end is None
    assert [(w.start, w.end) for w in parsed.prefs.preferred_windows] == [window]


def test_and_makes_a_range_only_after_between():
    assert parse_preferences(["I work 9 and 10 hour days"]).prefs.workday_start is None


def test_a_task_done_by_a_time_is_not_the_end_of_the_day():
    assert parse_preferences(["have the report done by 5pm"]).prefs.not_after is None
    assert parse_preferences(["I'm done by 5pm"]).prefs.not_after == time(17)


def test_deep_work_and_unknown_text():
    parsed = parse_preferences(["Deep work in the morning", "I like blue pens"])
    assert parsed.prefs.preferred_windows == [
        PreferredWindowIn(start=time(8), end=time(12), label="deep work")
    ]
    assert parsed.not_understood == ["I like blue pens"]


def test_later_facts_override_and_nonsense_is_ignored():
    parsed = parse_preferences(["max 6 hours a day", "max 4 hours a day", "work 25-30"])
    assert parsed.prefs.daily_max_hours == 4
    assert parsed.prefs.workday_start is None


async def schedule(client: httpx.AsyncClient, plan_id: int) -> dict[str, Any]:
    body = {"plan_id": plan_id, "start_date": next_monday().isoformat(), "horizon_days": 5}
    r = await client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_rules_shape_the_schedule(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    await memory.add("preference", "No meetings before 10", "30 minutes between blocks")
    await memory.add("constraint", "max 2 hours a day")
    tasks = [{"key": f"t{n}", "estimate_hours": 1.0} for n in range(4)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["source"] == "rules" and prefs["llm_used"] is False
    assert len(prefs["applied"]) == 3
    days: dict[str, float] = {}
    blocks = sorted(out["blocks"], key=lambda b: b["start"])
    for b in blocks:
        start = parse(b["start"])
        assert start.hour >= 10
        days[start.date().isoformat()] = days.get(start.date().isoformat(), 0) + 1
    assert max(days.values()) <= 2
    for a, b in zip(blocks, blocks[1:], strict=False):
        if parse(a["start"]).date() == parse(b["start"]).date():
            assert parse(b["start"]) - parse(a["end"]) >= timedelta(minutes=30)


async def test_a_half_hour_and_a_bare_end_hour_are_read_as_meant(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "not before 9.30" was applied as 09:00 and "stop at 5" as 05:00, which left no
    working time in a day: the response said so and the settings were used instead."""
    await memory.add("preference", "not before 9.30", "stop at 5")
    tasks = [{"key": f"t{n}", "estimate_hours": 2.0} for n in range(3)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert [line.split(" (")[0] for line in out["preferences"]["applied"]] == [
        "nothing before 09:30",
        "nothing after 17:00",
    ]
    assert not any("no working time" in w for w in out["warnings"]), out["warnings"]
    assert out["blocks"] and out["unplaced"] == []
    for b in out["blocks"]:
        start, end = parse(b["start"]), parse(b["end"])
        assert (start.hour, start.minute) >= (9, 30) and (end.hour, end.minute) <= (17, 0)


async def test_availability_for_calls_is_not_the_working_day(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "I'm available for calls 2-4pm" was read as working hours 02:00-16:00 (and "between
    2 and 4" as 02:00-04:00): "available" meant working hours whatever it was for."""
    texts = ("I'm available for calls 2-4pm", "available to clients between 2 and 4")
    await memory.add("preference", *texts)
    # 35 h in five 8-hour days (the settings' 09:00-17:00): the last hour is worked too.
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert out["preferences"]["applied"] == []
    assert all(m["applied"] == [] for m in out["preferences"]["memories"])
    assert out["unplaced"] == [] and out["blocks"]
    spans = [(parse(b["start"]).time(), parse(b["end"]).time()) for b in out["blocks"]]
    assert all(time(9) <= lo and hi <= time(17) for lo, hi in spans), spans
    assert any(hi > time(16) for _, hi in spans), spans


async def test_a_day_named_before_meetings_is_not_a_day_off(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "No Friday meetings" took every Friday off (and "no Monday calls before 10" every
    Monday): a bare "no" before a day read any words after it as "no work"."""
    await memory.add("preference", "No Friday meetings", "no Monday calls")
    # 32.5 h in five 8-hour days: more than any four days hold (32 h), so Monday and
    # Friday are both needed. (Not packed tighter: 38 h left a task out when the solve's
    # time limit ran out on a loaded machine.)
    tasks = [{"key": f"t{n}", "estimate_hours": 6.5} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert out["preferences"]["applied"] == []
    assert out["unplaced"] == [], out["unplaced"]
    assert {parse(b["start"]).weekday() for b in out["blocks"]} == {0, 1, 2, 3, 4}


async def test_when_meetings_end_is_not_the_end_of_the_working_day(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "Client meetings end at 4" was read as "nothing after 16:00" (a bare end hour is
    pm): every day lost its last working hour to when someone else's meetings end."""
    await memory.add("preference", "Client meetings end at 4", "our calls finish by 3")
    # 35 h in five 8-hour days (the settings' 09:00-17:00): the last hour is worked too.
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert out["preferences"]["applied"] == []
    assert out["unplaced"] == [] and out["blocks"]
    assert any(parse(b["end"]).time() > time(16) for b in out["blocks"]), out["blocks"]


async def test_a_preference_a_later_one_replaces_is_not_listed_as_applied(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """Both "max 6 hours a day" and the later "max 4 hours a day" were listed as applied,
    the first under its memory too, though only the 4 h cap shaped the schedule."""
    first, second = await memory.add("preference", "max 6 hours a day", "max 4 hours a day")
    tasks = [{"key": f"t{n}", "estimate_hours": 2.0} for n in range(4)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["applied"] == ["at most 4 h a day ('max 4 hours a day')"]
    by_id = {m["fact_id"]: m for m in prefs["memories"]}
    assert by_id[second]["applied"] == prefs["applied"] and by_id[second]["ignored"] == []
    assert by_id[first]["applied"] == []
    assert by_id[first]["ignored"] == [
        "at most 6 h a day ('max 6 hours a day') is replaced by the later "
        "at most 4 h a day ('max 4 hours a day')"
    ]
    assert f"preference ignored: {by_id[first]['ignored'][0]}" in out["warnings"]
    assert not any("not understood" in w for w in out["warnings"])
    days: dict[str, float] = {}
    for b in out["blocks"]:
        day = parse(b["start"]).date().isoformat()
        days[day] = days.get(day, 0) + (parse(b["end"]) - parse(b["start"])).seconds / 3600
    assert days and max(days.values()) <= 4


async def test_a_daily_cap_under_one_slot_is_ignored_with_a_warning(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    # 0.01 h (0.6 minutes) once made every schedule a 422 (a cap of 0 minutes); then it
    # was applied, so no block fit in any day and every task was left unplaced, and
    # "max 0.0000001 hours a day" did the same. Under one 15-minute slot it is ignored.
    await memory.add("constraint", "at most 0.01 hours a day", "max 0.0000001 hours a day")
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "t"}])).id)
    assert out["preferences"]["applied"] == []
    ignored = [w for w in out["warnings"] if w.startswith("preference ignored:")]
    assert len(ignored) == 2 and all("under the least of 0.25 h" in w for w in ignored)
    assert not any("not understood" in w for w in out["warnings"])
    assert [b["task_key"] for b in out["blocks"]] == ["t"] and out["unplaced"] == []


async def test_a_day_off_said_for_some_weeks_only_is_listed_as_ignored_and_not_taken(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "Every other Friday off" took every Friday off: 35 h in the four other days (32 h
    of the settings' 09:00-17:00) left work unplaced."""
    (fact,) = await memory.add("preference", "Every other Friday off")
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["applied"] == []
    (mine,) = [m for m in prefs["memories"] if m["fact_id"] == fact]
    assert mine["applied"] == [] and len(mine["ignored"]) == 1
    assert "said for some days only ('Every other')" in mine["ignored"][0]
    assert f"preference ignored: {mine['ignored'][0]}" in out["warnings"]
    assert out["unplaced"] == []
    assert any(parse(b["start"]).weekday() == 4 for b in out["blocks"]), out["blocks"]


def test_the_least_daily_cap_is_one_slot():
    assert parse_preferences(["max 0.25 hours a day"]).prefs.daily_max_hours == 0.25
    parsed = parse_preferences(["max 0.2 hours a day"])
    assert parsed.prefs.daily_max_hours is None and parsed.applied == []
    assert parsed.not_understood == [] and "0.2 h" in parsed.ignored[0]


async def test_preferences_that_leave_no_working_day_say_so_and_use_the_settings(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "No work on Mondays" ... "on Fridays" (weekends off by default) left no working
    day: every task unplaced for "no capacity", no word about the contradiction. Then the
    settings' days were used, yet the five were listed as applied."""
    days = ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays")
    await memory.add("preference", *(f"I don't work on {d}" for d in days))
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "t"}])).id)
    assert out["preferences"]["applied"] == []
    for m in out["preferences"]["memories"]:
        assert m["applied"] == [] and len(m["ignored"]) == 1
        assert m["ignored"][0].endswith(
            "is not applied: it leaves no working day in the week; the settings' days are used"
        )
        assert f"preference ignored: {m['ignored'][0]}" in out["warnings"]
    assert [b["task_key"] for b in out["blocks"]] == ["t"] and out["unplaced"] == []
    assert parse(out["blocks"][0]["start"]).weekday() < 5


async def test_a_day_off_keeps_the_other_days_the_settings_give(
    sched_client: httpx.AsyncClient,
    sched_state: AppState,
    db_session: AsyncSession,
    memory: Memories,
):
    """With Saturday a working day in the settings, "no work on Fridays" took Saturday off
    too: the rules started from Monday to Friday, whatever the settings said."""
    scheduler = sched_state.settings.scheduler.model_copy(update={"working_days": [1, 3, 6]})
    sched_state.settings = sched_state.settings.model_copy(update={"scheduler": scheduler})
    await memory.add("preference", "no work on Wednesdays")
    tasks = [{"key": f"t{n}", "estimate_hours": 4.0} for n in range(4)]
    body = {
        "plan_id": (await make_plan(db_session, tasks)).id,
        "start_date": next_monday().isoformat(),
        "horizon_days": 7,
    }
    r = await sched_client.post(f"{URL}/schedule", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["unplaced"] == [], out["unplaced"]
    days = {parse(b["start"]).weekday() for b in out["blocks"]}
    assert days == {0, 5}, out["blocks"]  # Monday and Saturday; not Wednesday


async def test_memory_down_falls_back_to_defaults(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    await memory.add("preference", "No meetings before 10")  # unreachable below
    memory.gateway_down()
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "a"}])).id)
    assert out["preferences"]["source"] == "defaults"
    assert any("memory unavailable" in w for w in out["warnings"])


class FakeLLM(LLMClient):
    def __init__(self, answer: SchedulingPreferences | None) -> None:
        self.answer = answer
        self.calls: list[tuple[str, Sequence[Message]]] = []

    async def complete_json(  # type: ignore[override]
        self, *, operation: str, prompt: Prompt, schema: type[BaseModel], **kw: Any
    ) -> StructuredResult[Any]:
        self.calls.append((operation, prompt.messages))
        if self.answer is None:
            raise LLMUnavailable("model offline")
        return StructuredResult(self.answer, LLMCallRecord(operation=operation, model="fake"))

    def model_for(self, operation: str) -> str:
        return "fake"

    async def check(self) -> None:
        """Always fine."""


async def test_llm_reads_preferences_with_the_prompt(
    sched_client: httpx.AsyncClient,
    sched_state: AppState,
    db_session: AsyncSession,
    memory: Memories,
):
    text = "I'm sharpest after lunch, nothing before 13:00 please"
    [fact_id] = await memory.add("preference", text)
    llm = FakeLLM(SchedulingPreferences(not_before=time(13)))
    sched_state.llm = llm
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "a"}])).id)
    assert out["preferences"] == {
        "applied": ["nothing before 13:00"],
        "llm_used": True,
        "source": "llm",
        "memories": [
            {
                "fact_id": fact_id,
                "text": text,
                "applied": [f"nothing before 13:00 ({text!r})"],
                "ignored": [],
            }
        ],
    }
    assert all(parse(b["start"]).hour >= 13 for b in out["blocks"])
    operation, messages = llm.calls[0]
    assert operation == "scheduling"
    assert "structured preferences" in messages[0].content  # the seeded schedule_optimizer
    assert "sharpest after lunch" in messages[1].content


async def test_days_the_llm_read_are_named_in_plain_words(
    sched_client: httpx.AsyncClient,
    sched_state: AppState,
    db_session: AsyncSession,
    memory: Memories,
):
    # The response said "working weekdays [0, 1, 2, 3]": numbers the user never wrote.
    await memory.add("preference", "Fridays are for admin, no client work then")
    sched_state.llm = FakeLLM(SchedulingPreferences(working_days=[3, 0, 1, 2]))
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "a"}])).id)
    assert out["preferences"]["applied"] == ["working days Monday, Tuesday, Wednesday, Thursday"]
    assert all(parse(b["start"]).weekday() < 4 for b in out["blocks"])


async def test_llm_failure_falls_back_to_rules(
    sched_client: httpx.AsyncClient,
    sched_state: AppState,
    db_session: AsyncSession,
    memory: Memories,
):
    await memory.add("preference", "No meetings before 11")
    sched_state.llm = FakeLLM(None)
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "a"}])).id)
    assert out["preferences"]["source"] == "rules" and out["preferences"]["llm_used"] is False
    assert any("used the rules instead" in w for w in out["warnings"])
    assert all(parse(b["start"]).hour >= 11 for b in out["blocks"])


# Hostile preference facts: each used to cost quadratic time in one of the rules (a lazy
# `.*?` after every "deep work"/"focus", two `\s*` around a clock's am/pm).
HOSTILE = {
    "deep work repeated": "deep work " * 10_000,
    "focus repeated": "focus " * 17_000,
    "a clock before a long blank": "work 9" + " " * 100_000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_rules_read_a_hostile_fact_in_bounded_time(name: str):
    text = HOSTILE[name]
    assert len(text) >= 100_000
    elapsed = []
    for _ in range(3):  # the quickest of three: a loaded machine may stall any one read
        started = time_now()
        parsed = parse_preferences([text, "deep work in the morning"])
        elapsed.append(time_now() - started)
    # What the fact says is still read (nothing here), and the next fact still counts.
    assert parsed.not_understood == [text]
    assert [(w.start, w.end) for w in parsed.prefs.preferred_windows] == [(time(8), time(12))]
    # Linear: 2-8 ms here; the quadratic rules took seconds on every read.
    assert min(elapsed) < 0.2, f"{name}: {elapsed} s"


def test_the_rules_read_a_preference_past_a_long_prefix_up_to_the_bound():
    from almanac.scheduler.preferences import PREFERENCE_MAX_CHARS

    filler = "x" * (PREFERENCE_MAX_CHARS - 100)
    assert parse_preferences([f"{filler} deep work after lunch"]).prefs.preferred_windows
    # Past the bound the rules read nothing more (the LLM path reads the whole text).
    beyond = "x" * PREFERENCE_MAX_CHARS + " deep work after lunch"
    assert parse_preferences([beyond]).prefs.preferred_windows == []


def test_focus_takes_the_first_period_after_the_first_mention():
    windows = parse_preferences(["focus and deep work in the afternoon, not mornings"])
    assert [(w.start, w.end) for w in windows.prefs.preferred_windows] == [(time(13), time(18))]
    # That period said as not wanted is not read as wanted (it was: afternoons preferred).
    refused = parse_preferences(["focus and deep work, not in the afternoon but mornings"])
    assert refused.prefs.preferred_windows == []
    assert any("not wanted" in line for line in refused.ignored), refused.ignored
    parsed = parse_preferences(["deep work: I said nothing about it", "focused  time after lunch"])
    assert [(w.start, w.end) for w in parsed.prefs.preferred_windows] == [(time(13), time(18))]
    assert parsed.not_understood == ["deep work: I said nothing about it"]


@pytest.mark.parametrize(
    "text", ["I work out 6-7am", "working out between 6 and 7am", "I work 9 to 10 hour days"]
)
def test_exercise_and_day_lengths_are_not_working_hours(text: str):
    # Read as working hours 06:00-07:00 and 09:00-10:00: every day's work squeezed into them.
    parsed = parse_preferences([text])
    assert parsed.prefs.workday_start is None and parsed.prefs.workday_end is None
    assert not any("working hours" in line for line in parsed.applied)


def _by_day(out: dict[str, Any]) -> dict[int, list[tuple[time, time]]]:
    days: dict[int, list[tuple[time, time]]] = {}
    for b in out["blocks"]:
        start, end = parse(b["start"]), parse(b["end"])
        days.setdefault(start.weekday(), []).append((start.time(), end.time()))
    return days


async def test_hours_said_for_one_day_hold_on_that_day_only(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "No work before 11 on Mondays" and "work until 3 on Fridays" held every day: each
    day lost four hours and work that fits the week was left unplaced."""
    await memory.add("preference", "No work before 11 on Mondays", "work until 3 on Fridays")
    # 31.25 h in a week of 8-hour days less Monday's and Friday's 2 hours (36 h); the old
    # reading left 4 hours a day (20 h). Friday is needed (the other days hold 30 h), and
    # Tuesday to Thursday use time both before 11:00 and after 15:00 (without either, the
    # week holds 30 h).
    # (Not packed tighter: a solve cut short on a loaded machine leaves a task out.)
    tasks = [{"key": f"t{n}", "estimate_hours": 6.25} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert [line.split(" (")[0] for line in out["preferences"]["applied"]] == [
        "on Mondays nothing before 11:00",
        "on Fridays nothing after 15:00",
    ]
    assert out["unplaced"] == [], out["unplaced"]
    days = _by_day(out)
    assert all(lo >= time(11) for lo, _ in days[0]), days[0]
    assert all(hi <= time(15) for _, hi in days[4]), days[4]
    middle = [span for d in (1, 2, 3) for span in days.get(d, [])]
    assert any(lo < time(11) for lo, _ in middle) and any(hi > time(15) for _, hi in middle)


async def test_a_lunch_break_is_not_a_buffer_between_blocks(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "lunch break 60 min" became 60 minutes between every two blocks: a day of 2-hour
    blocks held 6 hours of work, and a full week was left partly unplaced."""
    [fact] = await memory.add("preference", "lunch break 60 min")
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["applied"] == [] and prefs["memories"][0]["fact_id"] == fact
    [reason] = prefs["memories"][0]["ignored"]
    assert "lunch break" in reason and "not a buffer" in reason
    assert f"preference ignored: {reason}" in out["warnings"]
    assert out["unplaced"] == [], out["unplaced"]


async def test_a_daily_cap_on_one_activity_is_not_a_cap_on_all_work(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "max 2h/day of email" capped every day's work at 2 hours: 12 hours of tasks in a
    five-day week left unplaced."""
    await memory.add("preference", "max 2h/day of email", "at most 1 hour of admin per day")
    tasks = [{"key": f"t{n}", "estimate_hours": 2.0} for n in range(6)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["applied"] == []
    ignored = [m["ignored"] for m in prefs["memories"]]
    assert len(ignored[0]) == 1 and "email" in ignored[0][0] and "not all work" in ignored[0][0]
    assert len(ignored[1]) == 1 and "admin" in ignored[1][0]
    assert out["unplaced"] == [], out["unplaced"]


async def test_a_bare_end_hour_at_or_before_the_start_is_pm(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "stop at 9" was 09:00 (only a bare hour up to 8 was pm): with "start at 10" that left
    no working time, so the settings' 09:00-17:00 were used and work began at 9."""
    await memory.add("preference", "start at 10", "stop at 9")
    tasks = [{"key": f"t{n}", "estimate_hours": 6.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert [line.split(" (")[0] for line in out["preferences"]["applied"]] == [
        "nothing before 10:00",
        "nothing after 21:00",
    ]
    assert not any("no working time" in w for w in out["warnings"]), out["warnings"]
    assert out["unplaced"] == [] and out["blocks"]
    assert all(lo >= time(10) for spans in _by_day(out).values() for lo, _ in spans)


async def test_hours_that_leave_no_working_time_are_not_listed_as_applied(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "nothing before 18:00" with the settings' 09:00-17:00 left no working time: the
    settings were used, yet the response listed it as applied."""
    [fact] = await memory.add("preference", "nothing before 18:00")
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "t"}])).id)
    prefs = out["preferences"]
    assert prefs["applied"] == [] and prefs["memories"][0]["applied"] == []
    assert prefs["memories"][0]["fact_id"] == fact
    [reason] = prefs["memories"][0]["ignored"]
    assert "nothing before 18:00" in reason and "no working time" in reason
    assert f"preference ignored: {reason}" in out["warnings"]
    [block] = out["blocks"]
    assert time(9) <= parse(block["start"]).time() < time(17)


async def test_hours_the_llm_read_that_leave_no_working_time_are_not_listed(
    sched_client: httpx.AsyncClient,
    sched_state: AppState,
    db_session: AsyncSession,
    memory: Memories,
):
    await memory.add("preference", "I'm an evening person")
    sched_state.llm = FakeLLM(SchedulingPreferences(not_before=time(18), daily_max_hours=6))
    out = await schedule(sched_client, (await make_plan(db_session, [{"key": "a"}])).id)
    assert out["preferences"]["applied"] == ["at most 6 h a day"]
    assert any("nothing before 18:00" in w and "no working time" in w for w in out["warnings"])
    assert time(9) <= parse(out["blocks"][0]["start"]).time() < time(17)


async def test_sentences_about_other_things_leave_the_working_day_whole(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "no caffeine after 2pm" was "nothing after 14:00", "the kids finish at 3" "nothing
    after 15:00" and "deep work 9-12" working hours 09:00-12:00: a week of work that fits
    09:00-17:00 was left unplaced."""
    texts = ("no caffeine after 2pm", "the kids finish at 3", "deep work 9-12")
    await memory.add("preference", *texts)
    # 35 h in five 8-hour days (the settings' 09:00-17:00): afternoons are worked too.
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert out["preferences"]["applied"] == ["deep work preferred 09:00-12:00 ('deep work 9-12')"]
    assert out["unplaced"] == [], out["unplaced"]
    assert any(parse(b["end"]).time() > time(15) for b in out["blocks"]), out["blocks"]


@pytest.mark.parametrize(
    "text", ["Every other Friday I stop at 1", "I finish at 2 on alternate Fridays"]
)
def test_hours_said_for_some_of_a_days_weeks_are_not_applied(text: str):
    # "every other Friday" held on every Friday. (Hours said for different days, "On
    # Mondays I start at 10, on Fridays I finish at 3", each hold on their own days now:
    # `test_hours_for_every_day_and_a_days_own_hours_both_hold`.)
    parsed = parse_preferences([text])
    p = parsed.prefs
    said = (p.not_before, p.not_after, p.workday_start, p.workday_end)
    assert said == (None,) * 4 and p.day_hours == []
    assert parsed.applied == [] and parsed.ignored
    assert all("some days only" in why for why in parsed.ignored)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Every other Friday off", "Every other"),
        ("alternate Fridays off", "alternate"),
        ("every second Friday off", "every second"),
        ("biweekly Fridays off", "biweekly"),
        ("Fridays off in summer", "in summer"),
        ("In winter I don't work Fridays", "In winter"),
        ("no work on Fridays in August", "in August"),
        ("some Fridays off", "some Fridays"),
        # A qualifier in a clause of its own governs the others: the text is not read.
        ("In summer, Fridays off", "In summer"),
        ("Fridays off, but only in summer", "in summer"),
        ("In summer I work Mon-Fri 9-5, Fridays off", "In summer"),
        ("Mon-Fri 9-5 in summer, Fridays off", "in summer"),
        # The other weeks' hours cannot be read without it.
        ("Every other Friday off, otherwise Mon-Fri 9-5", "Every other"),
    ],
)
def test_days_off_said_for_some_weeks_only_are_not_every_week_off(text: str, said: str):
    # Every Friday was taken off.
    parsed = parse_preferences([text])
    assert parsed.prefs == SchedulingPreferences()
    assert parsed.applied == [] and parsed.not_understood == []
    (why,) = parsed.ignored
    assert "no work on fridays" in why, why
    assert f"said for some days only ({said!r})" in why and why.endswith(f"({text!r})")


@pytest.mark.parametrize(
    ("text", "clause", "rest"),
    [
        # The whole text was ignored for one clause's "every other Friday".
        ("Mon-Fri 9-5, every other Friday off", "every other Friday off", "working days"),
        ("Every other Friday off, Mon-Fri 9-5", "Every other Friday off", "working days"),
        ("Mon-Fri 9-5 and every other Friday off", "every other Friday off", "working days"),
        ("Mon-Fri 9-5; no work on Fridays in summer", "no work on Fridays in summer", "working"),
        ("Mon-Fri 9-5, Fridays off in summer", "Fridays off in summer", "working days"),
        (
            "Mon-Fri 9-5, every other Friday off, no meetings before 10",
            "every other Friday off",
            "nothing before 10:00",
        ),
        ("I work 9-5, stop at 3 every other Friday", "", "working hours 09:00-17:00"),
        ("No meetings before 10, every other Monday I start at 8", "", "nothing before 10:00"),
    ],
)
def test_a_some_weeks_clause_of_its_own_is_ignored_and_the_rest_read(
    text: str, clause: str, rest: str
):
    parsed = parse_preferences([text])
    assert parsed.not_understood == []
    assert any(line.startswith(rest) for line in parsed.applied), parsed.applied
    assert all(line.endswith(f"({text!r})") for line in parsed.applied)
    # Nothing of the qualified clause is applied: no Friday off, no Friday or Monday rule.
    p = parsed.prefs
    assert p.working_days in (None, [0, 1, 2, 3, 4]) and p.day_hours == []
    (why,) = parsed.ignored
    assert "some days only" in why and why.endswith(f"({text!r})"), why
    assert f"in {clause!r}" in why or not clause


@pytest.mark.parametrize(
    "text", ["I usually don't work Fridays", "usually no work on Fridays", "most Fridays off"]
)
def test_a_usual_day_off_is_the_week_a_preference_says(text: str):
    # The usual week is what a schedule plans: read, unlike "every other Friday".
    assert parse_preferences([text]).prefs.working_days == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Max 3 hours per day per client", "per client"),
        ("No more than 4 hours a day on any one client", "per client"),
        ("at most 5 hours a day for each project", "per project"),
    ],
)
def test_a_cap_per_client_is_not_a_cap_on_all_work(text: str, kind: str):
    # "per client" capped every day's work at 3 hours; "on any one client" was listed as
    # "4 h a day of any".
    parsed = parse_preferences([text])
    assert parsed.prefs.daily_max_hours is None and parsed.applied == []
    assert len(parsed.ignored) == 1 and f"a day {kind} caps" in parsed.ignored[0]


@pytest.mark.parametrize(
    ("text", "start", "days"),
    [
        ("I fly back Monday, so no work before 2 on Mondays", time(14), [0]),
        ("No meetings before 1", time(13), None),
        ("no calls before 3pm", time(15), None),  # said: unchanged
        ("No meetings before 8", time(8), None),  # a morning in the settings' day's reach
        ("no work before 07", time(7), None),  # "07" says the morning
        ("I work 1-6pm, nothing before 5", time(17), None),  # judged by the text's own hours
    ],
)
def test_a_bare_earliest_hour_the_morning_would_make_void_is_pm(
    text: str, start: time, days: list[int] | None
):
    # "no work before 2" was 02:00: listed as applied, and no limit at all in a 9-17 day.
    p = parse_preferences([text]).prefs
    if days is None:
        assert p.not_before == start and p.day_hours == []
    else:
        assert [(r.weekdays, r.not_before) for r in p.day_hours] == [(days, start)]


async def test_each_llm_preference_withdrawn_says_its_own_reason():
    # Both lines said both reasons: "nothing before 18:00 ... leaves no working time on
    # Fridays" and "on Fridays nothing after 08:00 ... (18:00 to 17:00)".
    from almanac.scheduler.preference_llm import resolve_preferences
    from almanac.scheduler.schemas import DayHoursIn

    answer = SchedulingPreferences(
        not_before=time(18), day_hours=[DayHoursIn(weekdays=[4], not_after=time(8))]
    )
    warnings: list[str] = []
    prefs, applied, source = await resolve_preferences(
        ["evenings, and short Fridays"], FakeLLM(answer), ("prompt", None), warnings
    )
    assert (source, applied, prefs.not_before, prefs.day_hours) == ("llm", [], None, [])
    [day] = [w for w in warnings if "nothing before 18:00" in w]
    [friday] = [w for w in warnings if "on Fridays nothing after 08:00" in w]
    assert "18:00 to 17:00" in day and "Fridays" not in day
    assert "no working time on Fridays" in friday and "18:00" not in friday


@pytest.mark.parametrize(
    "text",
    [
        "The client's office hours are 8-4",
        "Their support is available 8-4",
        "I'm available 8-4 for calls",
        "available 10-12 to clients",
    ],
)
def test_others_office_hours_and_availability_for_something_set_no_working_hours(text: str):
    # Each became every day's working hours 08:00-16:00 (10:00-12:00).
    parsed = parse_preferences([text])
    assert (parsed.prefs.workday_start, parsed.prefs.workday_end) == (None, None)
    assert parsed.applied == []


@pytest.mark.parametrize(
    "text",
    ["My office hours are 8-4", "Office hours 8-4", "I am available 8-4", "I'll be available 8-4"],
)
def test_my_office_hours_and_availability_are_the_working_day(text: str):
    assert parse_preferences([text]).prefs.workday_start == time(8)


@pytest.mark.parametrize(
    "text",
    [
        "The project must finish by 15 March",
        "Phase 2 should end by 12 December",
        "Nothing after 15/12",
        # Issue 15, round 3: "15.12" was 15:12 (a date in many places: 15 December).
        "Nothing after 15.12",
        "No work before 10.10",
        "We stop at 3rd of June",
        "The migration should finish at 3",
        "Our workshop will end at 4",
        "The audit will start at 10 on Monday",
        "The kids usually finish at 3",
        "Our team will start at 8",
    ],
)
def test_dates_and_what_other_things_do_are_no_working_hours(text: str):
    # Each was an hour of every working day (or Mondays'): "finish by 15 March" ended
    # every day at 15:00, "the migration should finish at 3" at 15:00.
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert (p.not_before, p.not_after, p.day_hours) == (None, None, [])
    assert parsed.applied == []


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("I should stop at 5", "not_after", time(17)),
        ("Must finish by 6", "not_after", time(18)),
        ("Please try to finish by 5:30", "not_after", time(17, 30)),
        ("Ideally I want to wrap up by 5", "not_after", time(17)),
        ("If the client agrees, we start at 8", "not_before", time(8)),
        ("I'd like to end by 6", "not_after", time(18)),
    ],
)
def test_the_users_own_start_and_end_are_read(text: str, field: str, value: time):
    assert getattr(parse_preferences([text]).prefs, field) == value


def _hours_by_day(out: dict[str, Any]) -> dict[int, float]:
    hours: dict[int, float] = {}
    for b in out["blocks"]:
        start, end = parse(b["start"]), parse(b["end"])
        hours[start.weekday()] = hours.get(start.weekday(), 0) + (end - start).seconds / 3600
    return hours


async def test_hours_for_every_day_and_fridays_own_end_both_shape_the_schedule(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "I work 8-6, on Fridays I finish at 2": "working hours 08:00-18:00 said for Fridays
    only" was refused and only Friday's end applied, so Monday to Thursday kept the
    settings' 09:00-17:00 and a week that fits 8-6 days was left partly unplaced."""
    await memory.add("preference", "I work 8-6, on Fridays I finish at 2")
    # 40 h: four 10-hour days and Friday's 6 hours hold 46 h; the old reading gave 37 h.
    # (Not packed tighter: on a loaded machine the solve's time limit left a task out.)
    tasks = [{"key": f"t{n}", "estimate_hours": 5.0} for n in range(8)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert [line.split(" (")[0] for line in out["preferences"]["applied"]] == [
        "working hours 08:00-18:00",
        "on Fridays nothing after 14:00",
    ]
    assert out["unplaced"] == [], out["unplaced"]
    days = _by_day(out)
    assert all(hi <= time(14) for _, hi in days[4]), days[4]
    assert any(lo < time(9) or hi > time(17) for d in range(4) for lo, hi in days[d]), days


async def test_caps_on_email_and_on_billed_hours_leave_the_working_day_whole(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "Max 2h/day email" and "I bill at most 6 hours a day" each capped all work (2, then
    6 hours a day): a week of 7-hour days was left partly unplaced."""
    email, billed = await memory.add(
        "preference", "Max 2h/day email", "I bill at most 6 hours a day"
    )
    tasks = [{"key": f"t{n}", "estimate_hours": 7.0} for n in range(5)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    prefs = out["preferences"]
    assert prefs["applied"] == []
    by_id = {m["fact_id"]: m["ignored"] for m in prefs["memories"]}
    assert "of email caps one kind of activity" in by_id[email][0]
    assert "billed work is not a cap on all work" in by_id[billed][0]
    assert out["unplaced"] == [], out["unplaced"]
    assert max(_hours_by_day(out).values()) > 6


async def test_a_weekly_cap_and_i_leave_at_shape_the_schedule(
    sched_client: httpx.AsyncClient, db_session: AsyncSession, memory: Memories
):
    """ "max 20h/week" and "I leave at 3" were not understood: the week was filled to 30
    hours and days ran to 17:00."""
    await memory.add("preference", "max 20h/week", "I leave at 3")
    tasks = [{"key": f"t{n}", "estimate_hours": 5.0} for n in range(6)]
    out = await schedule(sched_client, (await make_plan(db_session, tasks)).id)
    assert [line.split(" (")[0] for line in out["preferences"]["applied"]] == [
        "at most 20 h a week",
        "nothing after 15:00",
    ]
    assert sum(_hours_by_day(out).values()) <= 20
    assert out["unplaced"], "30 hours of work in a 20-hour week"
    assert all(hi <= time(15) for spans in _by_day(out).values() for _, hi in spans)


async def test_the_schema_the_llm_gets_says_what_day_hours_and_the_caps_are():
    """The seeded schedule_optimizer prompt names no field, and the schema said nothing of
    `day_hours` (nor of what a cap covers): per-day hours were left for the LLM to guess."""
    from almanac.scheduler.preference_llm import llm_preferences

    llm = FakeLLM(SchedulingPreferences())
    seen: list[type[BaseModel]] = []
    original = llm.complete_json

    async def spy(*, schema: type[BaseModel], **kw: Any) -> StructuredResult[Any]:
        seen.append(schema)
        return await original(schema=schema, **kw)

    llm.complete_json = spy  # type: ignore[method-assign]
    await llm_preferences(llm, "prompt", None, ["I work 9-5, on Fridays I finish at 1"])
    fields = seen[0].model_json_schema()["properties"]
    assert "weekdays only (0 = Monday)" in fields["day_hours"]["description"]
    # A day's wider hours cannot be a day rule (they only narrow): the LLM was not told, so
    # "Fridays 8-6" came back as a rule that changed nothing, where the rules widen the day.
    assert "never widen" in fields["day_hours"]["description"]
    assert "billed" in fields["daily_max_hours"]["description"]
    assert "a week" in fields["weekly_max_hours"]["description"]


@pytest.mark.parametrize(
    "text",
    [
        # The hours were moved onto the day the other clause names: "not on Fridays" made
        # 08:00-18:00 Fridays' hours only (Mondays to Thursdays kept 09:00-17:00), "Fridays
        # until noon" gave Fridays 07:00-15:00 and the other days 09:00.
        "I work 8-6, not on Fridays",
        "I work 7am-3pm, Fridays until noon",
        "I work 8-6, no meetings on Fridays",
    ],
)
def test_hours_are_not_moved_onto_a_day_whose_clause_the_rules_do_not_read(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.day_hours == [] and parsed.applied == []
    assert parsed.prefs.workday_start is None and parsed.prefs.workday_end is None
    [reason] = parsed.ignored
    assert "said for some days only, the rules cannot tell which" in reason


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # "Thursday, Fridays" read as one list of days: the whole week got 09:00-17:00 and
        # Fridays' 9 to 1 was dropped without a word.
        (
            "I work 9 to 5 Monday to Thursday, Fridays 9 to 1",
            [_WEEK] * 4 + [(time(9), time(13))],
        ),
        (
            "I work 8-4 Monday to Thursday, Friday 8-12",
            [(time(8), time(16))] * 4 + [(time(8), time(12))],
        ),
    ],
)
def test_a_range_of_days_then_another_day_with_its_own_hours_is_two_clauses(
    text: str, windows: list[tuple[time, time]]
):
    parsed = parse_preferences([text])
    p = parsed.prefs
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == windows
    assert parsed.ignored == [] and parsed.not_understood == []


@pytest.mark.parametrize(
    "clause",
    ["On Fridays I stop at 3, ", "I leave at 5 on Fridays. ", "Fridays 8-2, 5 otherwise, "],
)
def test_a_text_of_many_clauses_lists_a_bounded_number_of_lines(clause: str):
    # Each clause was read and listed, then listed again as replaced by the next: 83 lines
    # for one text, each quoting the whole memory (up to 20,000 characters).
    parsed = parse_preferences([clause * 100])
    assert len(parsed.applied) + len(parsed.ignored) <= 2 * MAX_CLAUSES
    assert parsed.prefs.day_hours  # still read


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # The first dot of "a.m." and "p.m." ended a clause: "3 p." and "m. on Fridays" were
        # two, and the Friday hours were refused ("cannot tell which") with the others.
        (
            "I work 9 a.m.-5 p.m. and stop at 3 p.m. on Fridays",
            [_WEEK] * 4 + [(time(9), time(15))],
        ),
        (
            "I work 8 a.m. to 4 p.m., Fridays 8 a.m. to 1 p.m.",
            [(time(8), time(16))] * 4 + [(time(8), time(13))],
        ),
        # A sentence may start after "p.m.".
        ("I stop at 5 p.m. On Fridays I stop at 3 p.m.", [_WEEK] * 4 + [(time(9), time(15))]),
        ("I stop at 3 p.m. on Fridays", [_WEEK] * 4 + [(time(9), time(15))]),
    ],
)
def test_the_dots_of_am_and_pm_do_not_end_a_clause(text: str, windows: list[tuple[time, time]]):
    parsed = parse_preferences([text])
    p = parsed.prefs
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == windows
    assert parsed.ignored == [] and parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # A day's clause of one clock after "until", "past", "after" or "from" was not read:
        # its days took the other clause's hours instead ("I work 9-5 and until 8 on
        # Thursdays" was 09:00-17:00 on Thursdays only), or the text was refused.
        ("I work 9-5 and until 8 on Thursdays", [_WEEK] * 3 + [(time(9), time(20)), _WEEK]),
        ("I work 10-6, Mondays from 8", [(time(8), time(18))] + [(time(10), time(18))] * 4),
        ("I work 7-3, Fridays until 12", [(time(7), time(15))] * 4 + [(time(7), time(12))]),
        ("No work past 6pm, past 3pm on Fridays", [_WEEK] * 4 + [(time(9), time(15))]),
        ("No work after 6 but Fridays after 4", [_WEEK] * 4 + [(time(9), time(16))]),
    ],
)
def test_a_days_clause_of_one_clock_after_until_or_from_holds_on_that_day(
    text: str, windows: list[tuple[time, time]]
):
    parsed = parse_preferences([text])
    p = parsed.prefs
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == windows
    assert parsed.ignored == [] and parsed.not_understood == []


@pytest.mark.parametrize(
    "text",
    [
        # "I leave at" newly ended the day: a lunch at 12 became "nothing after 12:00".
        "I leave at 12 for lunch",
        "I'm out at 1 for lunch on Fridays",
        "I stop at 12 for lunch",
        "I stop at 3 for an hour",
        "I stop at 12 to have lunch",
    ],
)
def test_a_pause_is_not_the_end_of_the_day(text: str):
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert (p.not_after, p.day_hours, parsed.applied) == (None, [], [])


def test_leaving_for_the_day_still_ends_it():
    assert parse_preferences(["I leave at 5 for the day"]).prefs.not_after == time(17)


@pytest.mark.parametrize(
    ("text", "daily", "weekly"),
    [
        # The hours are read clause by clause, the caps were judged by every day the text
        # names: a cap in a clause of its own was refused as "said for Fridays only".
        ("max 6h/day, I stop at 3 on Fridays", 6.0, None),
        ("I work 8-6 and max 6h a day, on Fridays I finish at 2", 6.0, None),
        ("Max 40h/week, I stop at 3 on Fridays", None, 40.0),
        ("I work 9-5 Monday to Thursday, max 32 hours a week", None, 32.0),
    ],
)
def test_a_cap_in_a_clause_of_its_own_holds_on_every_day(
    text: str, daily: float | None, weekly: float | None
):
    parsed = parse_preferences([text])
    assert (parsed.prefs.daily_max_hours, parsed.prefs.weekly_max_hours) == (daily, weekly)
    # "I work 9-5 Monday to Thursday" is a working week: its days are the days worked.
    week = parsed.prefs.working_days == [0, 1, 2, 3] and parsed.prefs.workday_start
    assert parsed.ignored == [] and (parsed.prefs.day_hours or week)


@pytest.mark.parametrize("text", ["On Fridays, max 4h/day", "max 4 hours a day on Fridays"])
def test_a_cap_said_for_some_days_is_still_refused(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.daily_max_hours is None and parsed.applied == []
    assert "said for Fridays only" in parsed.ignored[0]


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # A bracket was no clause's end: the 5 held on Fridays only and the 3 was dropped.
        ("I stop at 5 (3 on Fridays)", [_WEEK] * 4 + [(time(9), time(15))]),
        ("I work 8-6 (Fridays 8-1)", [(time(8), time(18))] * 4 + [(time(8), time(13))]),
        ("I work 8-6 (Mon-Thu)", [(time(8), time(18))] * 4 + [_WEEK]),
    ],
)
def test_a_bracket_is_a_clause_of_its_own(text: str, windows: list[tuple[time, time]]):
    parsed = parse_preferences([text])
    p = parsed.prefs
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == windows
    assert parsed.ignored == [] and parsed.not_understood == []


@pytest.mark.parametrize(
    "text",
    ["I stop at 5 from Monday to weekends", "weekends-Monday 9-5", "Away Friday to weekend"],
)
def test_a_range_of_days_ending_in_a_weekend_is_read_without_error(text: str):
    # A range whose end is "weekend" (two days) raised ValueError: a 500 for the schedule
    # reading that preference and for a plain memory's answer (`remember_hint`).
    from almanac.scheduler.preferences import remember_hint

    parse_preferences([text])
    remember_hint(text)
