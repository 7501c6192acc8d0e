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


@pytest.mark.parametrize(
    ("text", "field", "value", "said"),
    [
        # An exception said beside a standing preference: the standing one is read.
        ("Max 6 hours a day, tomorrow only 2", "daily_max_hours", 6.0, "tomorrow"),
        ("I work 9-5; not working this weekend", "workday_start", time(9), "this weekend"),
        ("No meetings before 10. Hard stop at 3 tomorrow", "not_before", time(10), "tomorrow"),
        # "this week" is the clause's own qualifier, not a pointer to another clause's week.
        (
            "I work 9-5 Mon-Fri, and this week also Saturday 10-2",
            "workday_start",
            time(9),
            "this week",
        ),
        ("9-5 Mon-Fri and this week also Saturday 10-1", "workday_end", time(17), "this week"),
    ],
)
def test_a_one_off_exception_leaves_the_standing_preference_read(
    text: str, field: str, value: object, said: str
) -> None:
    parsed = parse_preferences([text])
    assert getattr(parsed.prefs, field) == value
    assert parsed.prefs.not_after is None and parsed.prefs.daily_max_hours in (None, 6.0)
    (why,) = parsed.ignored
    assert f"said for that time only ({said!r})" in why and "other clauses are read" in why


@pytest.mark.parametrize(
    "text",
    [
        "Hard stop at 5 every day, including today",
        "I never work after 6, not even tonight",
        "Effective today, I finish at 5",
        "Today's standing rule: I finish at 5",
    ],
)
def test_a_text_saying_it_holds_every_day_is_standing(text: str) -> None:
    parsed = parse_preferences([text])
    assert parsed.prefs.not_after in (time(17), time(18)), (parsed.applied, parsed.ignored)
    assert parsed.ignored == []


@pytest.mark.parametrize(
    "text",
    [
        "Hard stop at 5 (today only)",  # the qualifier's clause governs the whole text
        "Finish at 3 on the 12th",
        "Hard stop at 4 on March 3",
        "For the next two weeks I stop at 4",
        "This month no work after 6",
        "Until Friday I finish at 4",
        "Tmrw I finish at 3",
        "This coming Friday I stop at 2",
    ],
)
def test_more_one_offs_are_not_standing(text: str) -> None:
    parsed = parse_preferences([text])
    assert parsed.prefs == SchedulingPreferences() and parsed.applied == []
    (why,) = parsed.ignored
    # The text is quoted once, whole: "(today only)" split the line inside the user's text.
    assert why.endswith(f"not applied ({text!r})") and why.count(text) == 1, why
