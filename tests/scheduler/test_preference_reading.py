"""Preferences read by the rules: both ends said at once, abbreviated days off, hours for a
day that is not worked, and a newer text's hours over an older text's for the same days."""

from __future__ import annotations

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
