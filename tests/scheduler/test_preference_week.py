"""A working week said in one text, "I work Tue-Sat 9-5": the days it names are the days
worked, with its hours; a day said with hours of its own restricts no week."""

from __future__ import annotations

from datetime import time

import pytest

from almanac.scheduler.preferences import parse_preferences, plural_days

_WEEK = (time(9), time(17))


@pytest.mark.parametrize(
    ("text", "days", "hours"),
    [
        # Read as hours for Tuesdays to Saturdays only: Monday was still worked, Saturday not.
        ("I work Tue-Sat 9-5", [1, 2, 3, 4, 5], (time(9), time(17))),
        ("Available Mon-Thu 10-4", [0, 1, 2, 3], (time(10), time(16))),
        ("Mon-Thu 10-6", [0, 1, 2, 3], (time(10), time(18))),
        ("I'm available Mon, Wed and Fri 9-1", [0, 2, 4], (time(9), time(13))),
        ("I work 10-4 on Mondays, Wednesdays and Fridays", [0, 2, 4], (time(10), time(16))),
        # Hours only: the working days were left to the settings.
        ("Working hours: Mon-Fri 9-5", [0, 1, 2, 3, 4], (time(9), time(17))),
        ("I work 8-4 Tue-Sat", [1, 2, 3, 4, 5], (time(8), time(16))),
        # Not understood at all: the days were every working day, so no day of its own.
        ("Mon-Fri 9-5", [0, 1, 2, 3, 4], (time(9), time(17))),
        ("Mon-Fri, 9am-5pm", [0, 1, 2, 3, 4], (time(9), time(17))),
        ("Mon to Fri 9 to 5", [0, 1, 2, 3, 4], (time(9), time(17))),
        ("weekdays 9-5", [0, 1, 2, 3, 4], (time(9), time(17))),
    ],
)
def test_a_working_week_sets_the_days_worked_and_their_hours(
    text: str, days: list[int], hours: tuple[time, time]
):
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert p.working_days == days
    assert p.hours(*_WEEK) == hours and p.day_hours == []
    assert any(line.startswith("working days ") for line in parsed.applied)
    assert parsed.not_understood == [] and parsed.ignored == []


def test_a_working_week_of_clauses_works_their_union_each_with_its_hours():
    parsed = parse_preferences(["Mon-Thu 9-5 and Fri 9-1"])
    p = parsed.prefs
    assert p.working_days == [0, 1, 2, 3, 4]
    lo, hi = p.hours(*_WEEK)
    assert [p.hours_on(d, lo, hi) for d in range(5)] == [_WEEK] * 4 + [(time(9), time(13))]
    assert "working days Mondays to Fridays ('Mon-Thu 9-5 and Fri 9-1')" in parsed.applied


@pytest.mark.parametrize("text", ["Hours 9-5", "Hours: 9am-5pm"])
def test_hours_said_with_no_days_are_every_days(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.hours(8, 18) == (time(9), time(17))
    assert parsed.prefs.working_days is None and parsed.not_understood == []


@pytest.mark.parametrize(
    "text",
    [
        "on Fridays 9-1",
        "Fridays I stop at 1",
        "no meetings Mon-Wed before 10",
        "Mon-Fri mornings are for deep work",
        "Weekends 10-2",
        "I work 9-5",
    ],
)
def test_one_day_or_days_with_a_qualifier_restrict_no_week(text: str):
    assert parse_preferences([text]).prefs.working_days is None


def test_a_later_working_week_replaces_an_earlier_one_and_its_days_off():
    parsed = parse_preferences(["Fridays off", "I work Tue-Sat 9-5", "Mon-Thu 10-4"])
    assert parsed.prefs.working_days == [0, 1, 2, 3]
    assert parsed.applied == [
        "working days Mondays to Thursdays ('Mon-Thu 10-4')",
        "working hours 10:00-16:00 ('Mon-Thu 10-4')",
    ]
    assert len(parsed.ignored) == 3


def test_a_later_day_off_is_taken_from_the_working_week():
    parsed = parse_preferences(["I work Tue-Sat 9-5", "Saturdays off"])
    assert parsed.prefs.working_days == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("text", "days", "rest"),
    [
        # The week's hours were lost: only the Friday rule was applied.
        ("Mon-Fri 9-5, no work after 3 on Fridays", [0, 1, 2, 3, 4], "on Fridays nothing after"),
        # Read as hours for Tuesdays to Saturdays only: Monday was still worked, Saturday not.
        ("I work Tue-Sat 9-5, no meetings before 10", [1, 2, 3, 4, 5], "nothing before 10:00"),
        ("Mon-Fri 9-5; max 6h/day", [0, 1, 2, 3, 4], "at most 6 h a day"),
        # The week last: its hours and days were lost, the other clause read.
        ("No meetings before 10, Mon-Fri 9-5", [0, 1, 2, 3, 4], "nothing before 10:00"),
        ("max 6h/day, I work Tue-Sat 9-5", [1, 2, 3, 4, 5], "at most 6 h a day"),
    ],
)
def test_a_working_week_then_another_clause_reads_both(text: str, days: list[int], rest: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days == days
    assert f"working hours 09:00-17:00 ({text!r})" in parsed.applied
    assert any(line.startswith(rest) for line in parsed.applied)
    assert parsed.not_understood == [] and parsed.ignored == []


@pytest.mark.parametrize(
    "text", ["Mon-Fri 9-5, Acme's support line", "Acme's support line, Mon-Fri 9-5"]
)
def test_a_working_week_beside_what_the_rules_do_not_read_is_no_working_week(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days is None and parsed.applied == []
    assert parsed.not_understood == [text]


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # Not understood at all: without hours the days worked were not read.
        ("I work Tue-Sat", [1, 2, 3, 4, 5]),
        ("I'm available Mon, Wed and Fri", [0, 2, 4]),
        ("I work Tue-Sat, no meetings before 10", [1, 2, 3, 4, 5]),
        # Not understood: "only" stopped the week being read.
        ("I only work Mon-Thu", [0, 1, 2, 3]),
        ("I work Mon to Thu only", [0, 1, 2, 3]),
        ("I only work weekdays", [0, 1, 2, 3, 4]),
    ],
)
def test_a_working_week_without_hours_sets_the_days_and_keeps_the_hours(text: str, days: list[int]):
    parsed = parse_preferences([text])
    p = parsed.prefs
    assert p.working_days == days
    assert p.workday_start is None and p.workday_end is None and p.day_hours == []
    assert f"working days {plural_days(days)} ({text!r})" in parsed.applied
    assert parsed.not_understood == [] and parsed.ignored == []


@pytest.mark.parametrize("text", ["I work weekends", "I work Mondays", "Tue-Sat"])
def test_one_day_or_days_without_a_lead_set_no_working_days(text: str):
    assert parse_preferences([text]).prefs.working_days is None


@pytest.mark.parametrize(
    ("text", "workdays", "days"),
    [
        # The 9-5 was lost: only the weekend off was applied.
        ("Mon-Fri 9-5, weekends off", range(7), [0, 1, 2, 3, 4]),
        ("I work Mon-Thu 9-5, Fridays off", range(5), [0, 1, 2, 3]),
        ("Tue-Sat 9-5, no work on Sundays or Mondays", range(7), [1, 2, 3, 4, 5]),
        # The week last: its hours were lost too.
        ("Weekends off, Mon-Fri 9-5", range(7), [0, 1, 2, 3, 4]),
        ("Fridays off; I work Mon-Thu 9-5", range(5), [0, 1, 2, 3]),
    ],
)
def test_a_working_week_then_days_off_applies_both(text: str, workdays: range, days: list[int]):
    parsed = parse_preferences([text], workdays=workdays)
    p = parsed.prefs
    assert p.working_days == days
    assert p.hours(time(8), time(18)) == _WEEK and p.day_hours == []
    assert f"working hours 09:00-17:00 ({text!r})" in parsed.applied
    assert any(line.startswith("no work on ") for line in parsed.applied)
    assert parsed.not_understood == [] and parsed.ignored == []


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # Read as the settings' week less the days off: Saturday not worked, Monday worked.
        ("I work Tue-Sat; Mondays off", [1, 2, 3, 4, 5]),
        ("Sundays off, I work Tue-Sat", [1, 2, 3, 4, 5]),
        # Friday was worked.
        ("Weekends off, I work Mon-Thu", [0, 1, 2, 3]),
        ("Fridays off, I work Tue-Sat", [1, 2, 3, 5]),
    ],
)
def test_days_worked_said_without_hours_beside_days_off_are_the_days_worked(
    text: str, days: list[int]
):
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days == days
    assert parsed.prefs.hours(*_WEEK) == _WEEK and parsed.prefs.day_hours == []
    assert any(line.startswith("working days ") for line in parsed.applied)
    assert parsed.not_understood == [] and parsed.ignored == []


def test_days_worked_without_hours_beside_a_day_said_otherwise_are_not_the_week():
    # A day named beside them but not as a day off: not read as the week (nor at all).
    parsed = parse_preferences(["I work Tue-Sat, Fri is short"])
    assert parsed.prefs.working_days is None
    assert parsed.not_understood == ["I work Tue-Sat, Fri is short"]


def _day_windows(
    text: str, settings: tuple[time, time]
) -> tuple[list[int] | None, dict[int, tuple[time, time]]]:
    """The working days a text sets and each working day's hours, with `settings` hours."""
    parsed = parse_preferences([text], hours=settings)
    assert parsed.not_understood == [] and parsed.ignored == [], parsed
    p = parsed.prefs
    lo, hi = p.hours(*settings)
    days = p.working_days if p.working_days is not None else range(5)
    return p.working_days, {d: p.hours_on(d, lo, hi) for d in days}


@pytest.mark.parametrize(
    ("text", "settings", "days", "day", "window"),
    [
        # Friday's hours were read as every working day's ("working hours 09:00-13:00").
        ("I work Mon-Fri, Fridays 9-1", _WEEK, [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        (
            "I work Mon-Fri, Fridays 9-1",
            (time(8), time(16)),
            [0, 1, 2, 3, 4],
            4,
            (time(9), time(13)),
        ),
        (
            "I work Mon-Fri, Fridays 9-1",
            (time(10), time(18)),
            [0, 1, 2, 3, 4],
            4,
            (time(9), time(13)),
        ),
        # "nothing after 13:00" on every day, and no working days.
        ("I work Mon-Fri, Fridays until 1", _WEEK, [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        ("I work Tue-Sat, Saturdays 10-2", _WEEK, [1, 2, 3, 4, 5], 5, (time(10), time(14))),
        # The day right after the range was taken into a list, "Mon-Fri 9-1" on every day.
        ("I work Mon-Thu, Fri 9-1", _WEEK, [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        ("I work Mon-Thu, Fri 9-1", (time(8), time(16)), [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        ("I work Mon-Thu and Fri 9-1", _WEEK, [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        ("I work Mon-Thu; Friday 9-1", _WEEK, [0, 1, 2, 3, 4], 4, (time(9), time(13))),
        ("I work Tue-Fri, Mon 8-12", _WEEK, [0, 1, 2, 3, 4], 0, (time(8), time(12))),
    ],
)
def test_days_worked_then_one_of_them_with_its_own_hours_keep_the_others_hours(
    text: str,
    settings: tuple[time, time],
    days: list[int],
    day: int,
    window: tuple[time, time],
):
    worked, windows = _day_windows(text, settings)
    assert worked == days
    assert windows == {d: window if d == day else settings for d in days}


@pytest.mark.parametrize(
    ("text", "days", "window"),
    [
        # Read as nothing before 10 on those days, the working days left as they were.
        ("I work Tue-Sat from 10", [1, 2, 3, 4, 5], (time(10), time(17))),
        ("I work Tue–Sat from 10", [1, 2, 3, 4, 5], (time(10), time(17))),
        ("I work Mon-Thu until 4", [0, 1, 2, 3], (time(9), time(16))),
    ],
)
def test_days_worked_then_one_end_of_their_day_set_both(
    text: str, days: list[int], window: tuple[time, time]
):
    worked, windows = _day_windows(text, _WEEK)
    assert worked == days
    assert windows == dict.fromkeys(days, window)


def test_days_worked_with_a_day_of_them_named_again_without_hours_are_not_a_list():
    # "Mon-Fri, Fri 9-1" (no "I work": days alone are no week) was Mon-Fri 9-1 on every day.
    parsed = parse_preferences(["Mon-Fri, Fri 9-1"])
    assert parsed.prefs.workday_start is None and parsed.prefs.workday_end is None
    assert parsed.applied == [] and parsed.not_understood == ["Mon-Fri, Fri 9-1"]


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # A day not next to the range is one list with it: the hours are every day's.
        ("I work Mon-Wed, Fri 9-1", [0, 1, 2, 4]),
        ("I work Mon, Tue, Wed 9-1", [0, 1, 2]),
    ],
)
def test_a_list_of_days_apart_from_a_range_still_shares_its_hours(text: str, days: list[int]):
    worked, windows = _day_windows(text, _WEEK)
    assert worked == days
    assert windows == dict.fromkeys(days, (time(9), time(13)))


@pytest.mark.parametrize(
    "text",
    [
        # Only the hours were read: the days worked were lost to the words after them.
        "I work Mon-Fri 9-5 from home",
        "I work Mon-Fri 9-5 remotely",
        "I work Mon-Fri 9-5 at the office",
        "I work Mon-Fri 9-5 in Berlin",
        "I work Mon-Fri 9-5 in New York",
        "I work Mon-Fri 9-5, from home",
        "Mon-Fri 9-5 from home",
    ],
)
def test_where_the_week_is_worked_does_not_stop_its_days_being_read(text: str):
    worked, windows = _day_windows(text, (time(8), time(16)))
    assert worked == [0, 1, 2, 3, 4]
    assert windows == dict.fromkeys(range(5), (time(9), time(17)))


@pytest.mark.parametrize(
    "text",
    [
        # "for Acme", "in Acme's office" may be one client's share of the week.
        "I work Mon-Fri 9-5 in Acme's office",
        "I work Mon-Fri 9-5 for Acme",
        # Days said with a place and no hours are where those days are worked.
        "I work from home Mon and Fri",
        "I work Mon and Fri from home",
        "I work Mon-Wed from home",
        "I work from home Mon-Wed 9-5",
    ],
)
def test_days_said_with_a_client_or_a_place_only_are_no_working_week(text: str):
    parsed = parse_preferences([text])
    assert parsed.prefs.working_days is None
