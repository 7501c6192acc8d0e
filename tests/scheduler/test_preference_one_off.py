"""Preferences said for one day or week are not standing ones: "Hard stop at 5 today"
held every day. "From tomorrow on" begins a standing one, which is read."""

from __future__ import annotations

from datetime import time

import pytest

from almanac.scheduler.preferences import parse_preferences
from almanac.scheduler.schemas import SchedulingPreferences


@pytest.mark.parametrize(
    ("text", "said", "what"),
    [
        ("Hard stop at 5 today", "today", "nothing after 17:00"),
        ("I have a hard stop at 5 today", "today", "nothing after 17:00"),
        ("Tomorrow I finish at 3", "Tomorrow", "nothing after 15:00"),
        ("No meetings before 10 tomorrow", "tomorrow", "nothing before 10:00"),
        ("No work after 6 tonight", "tonight", "nothing after 18:00"),
        ("This week I can only work 4 hours a day", "This week", "at most 4 h a day"),
        ("No work on Fridays this week", "this week", "no work on fridays"),
    ],
)
def test_a_preference_said_for_one_time_is_not_applied_and_says_why(
    text: str, said: str, what: str
) -> None:
    parsed = parse_preferences([text])
    assert parsed.prefs == SchedulingPreferences()
    assert parsed.applied == []
    (why,) = parsed.ignored
    assert why.startswith(f"{what}: said for that time only ({said!r})"), why
    assert "a preference holds every week" in why and why.endswith(f"({text!r})")


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("From tomorrow on I stop at 5", "not_after", time(17)),
        ("Starting today, no work before 10", "not_before", time(10)),
        ("I stop at 5 from this week onwards", "not_after", time(17)),
        ("As of next week I finish at 4", "not_after", time(16)),
        # Owned by the user through "have a" / "got a" ("the client has a hard stop" is not).
        ("I have a hard stop at 5", "not_after", time(17)),
        ("I've got a hard stop at 5:30", "not_after", time(17, 30)),
        ("We have a hard stop at 6pm", "not_after", time(18)),
    ],
)
def test_a_standing_preference_beginning_now_is_read(text: str, field: str, value: time) -> None:
    parsed = parse_preferences([text])
    assert getattr(parsed.prefs, field) == value, (parsed.applied, parsed.ignored)
    assert parsed.ignored == []


@pytest.mark.parametrize("text", ["The client has a hard stop at 5", "They have a hard stop at 4"])
def test_someone_elses_hard_stop_is_not_the_users(text: str) -> None:
    parsed = parse_preferences([text])
    assert parsed.prefs == SchedulingPreferences() and parsed.applied == []


def test_a_one_off_clause_of_its_own_leaves_the_rest_read() -> None:
    parsed = parse_preferences(["Fridays off; this Friday I stop at 3"])
    assert parsed.prefs.working_days == [0, 1, 2, 3]
    assert parsed.prefs.not_after is None and parsed.prefs.day_hours == []
    (why,) = parsed.ignored
    assert "said for that time only ('this Friday')" in why
