"""A missed floor's reason says what the solver did (a search that never ran for want of
time is not one that "found none in time"), and names the baselines in words: the internal
names (`edf-own`) stay in `Floor.baseline`, the API's machine field, and out of the text."""

from __future__ import annotations

import re

from almanac.scheduler.core import Task
from almanac.scheduler.core.floors import in_words, missed_warning
from almanac.scheduler.core.model import Floor

from .helpers import at, checked, make_problem

# One working day of 8.5 h: the 8 h priority-5 job (greedy) and two 1 h jobs due at noon
# (EDF) cannot all fit, so no schedule has greedy's hours and EDF's deadlines.
TASKS = [
    Task("big", "Big", 480, priority=5),
    Task("a", "A", 60, deadline=at(0, 12)),
    Task("b", "B", 60, deadline=at(0, 12)),
]
NAMES = re.compile(r"\bedf\b|(?<!priority )\bgreedy\b|-own\b|-plain\b")


def test_with_time_the_reason_says_what_the_search_for_deadlines_found() -> None:
    schedule = checked(make_problem(TASKS, days=1))
    _, deadlines = schedule.floors
    assert not deadlines.reached and deadlines.baseline == "edf"
    assert deadlines.why.startswith(
        "a global earliest-deadline-first meets 2 deadlines but places 2 weighted h, under the "
        "40 of a priority greedy; no schedule of the tasks a priority greedy places meets 2 "
        "(proven by the solver); with any tasks, none reaching both was found in the time left"
    ), deadlines.why
    assert "not searched" not in deadlines.why
    assert NAMES.search(deadlines.why) is None, deadlines.why


def test_a_search_skipped_for_want_of_time_is_said_to_be_skipped() -> None:
    # A second in all: after the proof, under the 1.25 s the search for the most deadlines
    # met needs is left, so it never runs.
    schedule = checked(make_problem(TASKS, days=1, time_limit_seconds=1.0))
    _, deadlines = schedule.floors
    assert not deadlines.reached
    assert "schedules of other tasks were not searched (no time was left for it)" in (deadlines.why)
    assert "found in time" not in deadlines.why and "time left" not in deadlines.why
    assert NAMES.search(deadlines.why) is None, deadlines.why


def test_the_warning_names_the_baseline_in_words() -> None:
    floor = Floor("deadlines met", "edf-own-plain", 3, 1, False, "the reason")
    assert missed_warning(floor) == (
        "deadlines met: 1 of 3, below the floor set by a textbook earliest-deadline-first "
        "over the whole calendar afresh (each task by its own deadline): the reason"
    )
    hours = Floor("weighted hours", "repair-greedy", 6.5, 4, False)
    assert missed_warning(hours) == (
        "weighted hours: 4 of 6.5 weighted h, below the floor set by a simple repair "
        "(displaced work highest priority first)"
    )
    assert in_words("edf-own") == (
        "a textbook earliest-deadline-first (each task by its own deadline)"
    )
    assert in_words("greedy") == "a priority greedy"
    assert in_words("edf") == "a global earliest-deadline-first"
