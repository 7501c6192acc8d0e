"""Preferences read by the rules: both ends said at once, abbreviated days off, hours for a
day that is not worked, and a newer text's hours over an older text's for the same days."""

from __future__ import annotations

import subprocess
import sys
from datetime import time

import pytest

from almanac.scheduler.preferences import parse_preferences

_WEEK = (time(9), time(17))


def _windows(texts: list[str]) -> list[tuple[time, time]]:
    p = parse_preferences(texts).prefs
    lo, hi = p.hours(*_WEEK)
    return [p.hours_on(d, lo, hi) for d in range(5)]


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("No work before 9 and after 5", (time(9), time(17))),
        ("No meetings before 10 or after 4pm", (time(10), time(16))),
        ("nothing before 8:30 and after 16:00", (time(9), time(16))),
    ],
)
def test_a_start_and_an_end_said_together_are_both_read(text: str, window: tuple[time, time]):
    # Only the start was read: "after 5" had no "no" of its own.
    parsed = parse_preferences([text])
    assert _windows([text]) == [window] * 5
    assert len(parsed.applied) == 2 and parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "off"),
    [
        ("no work on weds", {2}),
        ("I don't work fri", {4}),
        ("No work on Wed, Fri", {2, 4}),
        ("off on Thurs.", {3}),
    ],
)
def test_a_day_off_may_be_named_short(text: str, off: set[int]):
    # Only full names made a day off: "no work on weds" was not understood at all.
    parsed = parse_preferences([text], workdays=(0, 1, 2, 3, 4))
    assert parsed.prefs.working_days == sorted({0, 1, 2, 3, 4} - off)
    assert parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "off", "listed"),
    [
        ("I don't work Monday to Wednesday", {0, 1, 2}, "mondays and tuesdays and wednesdays"),
        ("no work on mon-wed", {0, 1, 2}, "mondays and tuesdays and wednesdays"),
        ("I don't work fri to mon", {4, 5, 6, 0}, "fridays and saturdays and sundays and mondays"),
    ],
)
def test_a_range_of_days_off_is_every_day_in_it(text: str, off: set[int], listed: str):
    # Only the range's first day was taken off, and only it was listed as applied.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == sorted(set(range(7)) - off)
    assert parsed.applied == [f"no work on {listed} ({text!r})"]


def test_a_range_of_days_ending_in_part_of_a_day_is_not_whole_days_off():
    parsed = parse_preferences(["I don't work mon to wed mornings"], workdays=range(7))
    assert {1, 2} <= set(parsed.prefs.working_days or range(7))


@pytest.mark.parametrize(
    ("text", "off"),
    [("no work on sat", {5}), ("No work on Sat and Sun", {5, 6}), ("sun off", {6})],
)
def test_a_weekend_day_off_may_be_named_short(text: str, off: set[int]):
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == sorted(set(range(7)) - off)


@pytest.mark.parametrize("text", ["I sat down on Friday and wrote", "no sun today"])
def test_sat_and_sun_as_words_are_no_day_off(text: str):
    assert parse_preferences([text]).prefs.working_days is None


@pytest.mark.parametrize(
    ("texts", "idle"),
    [
        (["Sat 10-2"], "Saturdays"),
        (["I work 9-5, Saturdays 8-6"], "Saturdays"),
        (["On Fridays I finish at 1", "no work on Fridays"], "Fridays"),
    ],
)
def test_hours_for_a_day_not_worked_are_not_listed_as_applied(texts: list[str], idle: str):
    # They were listed as applied though the scheduler never places work on that day, and
    # "Saturdays 8-6" widened the other days' hours to 08:00-18:00 by rules of their own.
    parsed = parse_preferences(texts)
    assert not any(line.startswith(f"on {idle}") for line in parsed.applied)
    assert any(f"{idle} are not working days" in why for why in parsed.ignored)
    assert not parsed.prefs.day_hours and parsed.prefs.workday_start in (None, time(9))


def test_hours_for_the_weekend_hold_when_the_weekend_is_worked():
    parsed = parse_preferences(["nothing after 1pm on weekends"], workdays=range(7))
    rules = [(r.weekdays, r.not_before, r.not_after) for r in parsed.prefs.day_hours]
    assert rules == [([5, 6], None, time(13))]
    assert parsed.applied and parsed.ignored == []


@pytest.mark.parametrize(
    ("texts", "friday", "thursday"),
    [
        # The Friday rule of the older text still ended Fridays at 13:00.
        (["On Fridays I stop at 1", "I work 8-4"], (time(8), time(16)), (time(8), time(16))),
        (["On Fridays I stop at 1", "I stop at 3"], (time(9), time(15)), (time(9), time(15))),
        # The older rule held on Fridays too, and the earlier end won.
        (
            ["On Thursdays and Fridays I stop at 1", "On Fridays I stop at 3"],
            (time(9), time(15)),
            (time(9), time(13)),
        ),
        # A later start says nothing of the end: the older Friday end stands.
        (["On Fridays I stop at 1", "I start at 8"], (time(9), time(13)), _WEEK),
        # A half day off is no hours of a day: a later working day for every day keeps it.
        (["Keep Friday afternoons free", "I work 8-4"], (time(8), time(12)), (time(8), time(16))),
    ],
)
def test_a_newer_texts_hours_replace_an_older_texts_for_the_days_it_names(
    texts: list[str], friday: tuple[time, time], thursday: tuple[time, time]
):
    parsed = parse_preferences(texts)
    windows = _windows(texts)
    assert (windows[3], windows[4]) == (thursday, friday)
    assert parsed.not_understood == []
    if friday[1] != time(13) and friday[1] != time(12):
        assert any("no longer holds on Fridays" in why for why in parsed.ignored)
        assert not any(
            line.endswith(f"({texts[0]!r})") and "Fridays" in line.split(" (")[0]
            for line in parsed.applied
        )


@pytest.mark.parametrize("text", ["Sat and Sun are off", "sat and sun are free"])
def test_short_weekend_days_listed_before_off_are_days_off(text: str):
    # "Sun" after "and" was no day ("the sun is out"), so the whole text was not understood.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == [0, 1, 2, 3, 4]
    assert parsed.not_understood == []


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("No work on mon to wed mornings", "not_before"),
        ("mon to wed mornings are off", "not_before"),
        ("I don't work Mon-Wed afternoons", "not_after"),
        ("keep Monday to Wednesday mornings free", "not_before"),
    ],
)
def test_a_range_of_half_days_off_is_each_half_day_in_it(text: str, side: str):
    # "No work on mon to wed mornings" took all of Monday off and left Tuesday and
    # Wednesday mornings; "mon to wed mornings are off" was not understood.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days is None
    [rule] = parsed.prefs.day_hours
    assert rule.weekdays == [0, 1, 2]
    assert getattr(rule, side) == time(12)


def test_both_ends_said_in_one_breath_hold_on_the_days_named():
    # "and" cut the text in two clauses, so 10:00 held on every day and 16:00 on Mondays.
    parsed = parse_preferences(["No work before 10 and after 4 on Mondays"])
    assert parsed.prefs.not_before is None
    assert parsed.prefs.not_after is None
    rules = {(tuple(r.weekdays), r.not_before, r.not_after) for r in parsed.prefs.day_hours}
    assert rules == {((0,), time(10), None), ((0,), None, time(16))}


def test_later_working_hours_replace_an_earlier_earliest_hour():
    # "Nothing before 10" stayed in force beside the later "I work 8-4", so the day still
    # started at 10; the newer text says when the day starts.
    parsed = parse_preferences(["Nothing before 10", "I work 8-4"])
    assert parsed.prefs.not_before is None
    assert (parsed.prefs.workday_start, parsed.prefs.workday_end) == (time(8), time(16))
    assert parsed.applied == ["working hours 08:00-16:00 ('I work 8-4')"]
    assert any("'Nothing before 10'" in why and "replaced" in why for why in parsed.ignored)
    # Said the other way round, or in one text, both hold.
    for texts in (["I work 8-4", "Nothing before 10"], ["Nothing before 10, I work 8-4"]):
        assert parse_preferences(texts).prefs.not_before == time(10)


@pytest.mark.parametrize(
    "text", ["No work on sat. Sat 10-2", "No work on Saturdays. Saturdays 10-2"]
)
def test_hours_for_a_day_off_in_the_same_text_are_listed_as_ignored(text: str):
    # The day's hours were neither applied nor listed as ignored: the response hid them.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == [0, 1, 2, 3, 4, 6]
    assert parsed.applied == [f"no work on saturdays ({text!r})"]
    assert [why for why in parsed.ignored if "not working days" in why] == [
        f"on Saturdays nothing before 10:00 ({text!r}) is not applied: Saturdays are not "
        "working days, so it changes nothing",
        f"on Saturdays nothing after 14:00 ({text!r}) is not applied: Saturdays are not "
        "working days, so it changes nothing",
    ]


@pytest.mark.parametrize(
    ("text", "working"),
    [
        ("No work on Mon. Wed. Fri.", [1, 3, 5, 6]),
        ("Off on Tue. Thu. I work 9-5", [0, 2, 4, 5, 6]),
        ("Mon. Wed. are off", [1, 3, 4, 5, 6]),
        ("No work on Sat. Sun 10-2", [0, 1, 2, 3, 4, 6]),
    ],
)
def test_abbreviated_days_each_with_its_dot_are_one_list(text: str, working: list[int]):
    # A blank after a short day's dot ended the list ("sat. Sat 10-2" is two sentences), so
    # "Mon. Wed. Fri." took Monday off only; a day with its own hours after the dot still
    # starts a new sentence.
    assert parse_preferences([text], workdays=range(7)).prefs.working_days == working


@pytest.mark.parametrize(
    "text",
    [
        "No work on Sat. and Sun. I work 9-5",
        "No work on sat and sun. I work 9-5",
        "No work on sat or sun. I work 9-5",
        "No work on Saturdays and sun. Stop at 5",
    ],
)
def test_a_weekend_day_after_a_day_and_and_is_a_day_off_too(text: str):
    # "sun." before another sentence was no day ("the sun is out"), so only Saturday was
    # taken off; after a day and "and" (or "or") it is one.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == [0, 1, 2, 3, 4]
    assert f"no work on saturdays and sundays ({text!r})" in parsed.applied


@pytest.mark.parametrize(
    ("text", "working", "said"),
    [
        ("No work on tues and sat. I work 9-5", [0, 2, 3, 4, 6], "tuesdays and saturdays"),
        ("No work on Tues. or Sat. I work 9-5", [0, 2, 3, 4, 6], "tuesdays and saturdays"),
        ("No work on weds and sun. I work 9-5", [0, 1, 3, 4, 5], "wednesdays and sundays"),
        ("No work on Thur and Sat. I work 9-5", [0, 1, 2, 4, 6], "thursdays and saturdays"),
        ("No work on thurs or sun. I work 9-5", [0, 1, 2, 4, 5], "thursdays and sundays"),
        ("No work on Thurs. and sat. I work 9-5", [0, 1, 2, 4, 6], "thursdays and saturdays"),
    ],
)
def test_a_weekend_day_after_a_longer_short_name_and_and_is_a_day_off_too(
    text: str, working: list[int], said: str
):
    # "tues", "weds", "thur" and "thurs" are days as "tue" is: "No work on tues and sat"
    # took Tuesday off only, and the Saturday of a six-day week was still planned.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == working
    assert f"no work on {said} ({text!r})" in parsed.applied


@pytest.mark.parametrize(
    ("unit", "times"),
    [
        ("sat, ", 60),
        ("sat & ", 60),
        ("sun/", 60),
        ("no work on sat, sun, ", 60),
        ("sat and ", 300),
        ("Sat. and Sun. ", 150),
        ("sat or ", 300),
        ("tues and sat and ", 150),
        ("Thurs. or ", 200),
        ("mon-fri 9-5 ", 150),
        ("Mon, Wed and Fri 9-1, ", 150),
        ("I work 9 to 5 mon to fri and ", 150),
        ("weekdays, ", 300),
        ("Mon-Fri 9-5, ", 150),
    ],
)
def test_a_list_of_short_weekend_days_is_read_without_exponential_backtracking(
    unit: str, times: int
):
    # Each "sat" of "sat, sat, sat" could match two alternatives of the day pattern, so a
    # list of them took exponential time: 17 s for 100 characters, centuries for 300. A day
    # after "sat and" must stay one way to match, or "sat and sat and ..." is so again.
    # Run apart so a regression fails on its timeout (a few ms now) instead of hanging.
    code = (
        "import sys\n"
        "from almanac.scheduler.preferences import parse_preferences\n"
        "parse_preferences([sys.argv[1] * int(sys.argv[2]) + 'x'], workdays=range(7))\n"
        "print('read')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, unit, str(times)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "read", done.stderr


@pytest.mark.parametrize(
    ("unit", "chars"),
    [
        ("sat, ", 40_000),
        ("mon. ", 40_000),
        ("sun/", 40_000),
        ("Fridays, ", 40_000),
        ("meetings stop at 5 ", 300_000),
    ],
)
def test_the_rules_read_a_long_fact_in_time_linear_in_its_length(unit: str, chars: int):
    # A list of days ("sat, sat, ...") was read again from each of its days to its end, and
    # each "stop at" looked for others' meetings from the text's start: quadratic, 0.8 s at
    # the 2,000-character cap, read for every fact on every schedule. Read past the cap (a
    # few seconds now), quadratic work takes minutes: run apart, a regression fails on the
    # timeout. Meetings cost less each, so their text is longer.
    code = (
        "import sys\n"
        "import almanac.scheduler.preferences as p\n"
        "chars = int(sys.argv[2])\n"
        "p.PREFERENCE_MAX_CHARS = chars\n"
        "p.parse_preferences([(sys.argv[1] * chars)[:chars]], workdays=range(7))\n"
        "print('read')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, unit, str(chars)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "read", done.stderr


@pytest.mark.parametrize(
    ("text", "working", "said"),
    [
        ("I work Monday to Friday, and weekends are off", [0, 1, 2, 3, 4], "weekends"),
        ("I work 9-5 Mon-Fri, Sat and Sun are off", [0, 1, 2, 3, 4], "saturdays and sundays"),
        (
            "9-5 Monday through Friday, Saturday and Sunday off",
            [0, 1, 2, 3, 4],
            "saturdays and sundays",
        ),
        # The days worked are said (Sunday was worked, from the settings, before).
        ("I work Mon to Thu, Fri and Sat are off", [0, 1, 2, 3], "fridays and saturdays"),
        ("Fri-Sun off", [0, 1, 2, 3], "fridays and saturdays and sundays"),
        (
            "Tue till sat are off",
            [0, 6],
            "tuesdays and wednesdays and thursdays and fridays and saturdays",
        ),
    ],
)
def test_the_last_day_of_a_range_is_no_day_off_before_a_list(
    text: str, working: list[int], said: str
):
    # A list of days "are off" began at the range's last day: "Monday to Friday, and
    # weekends are off" took Friday off too; a range off itself was its last day only.
    parsed = parse_preferences([text], workdays=range(7))
    assert parsed.prefs.working_days == working
    assert f"no work on {said} ({text!r})" in parsed.applied
