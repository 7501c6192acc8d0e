"""`day_span`: an answer's ISO times as the CLI's replan lines show them."""

from __future__ import annotations

from almanac.clock import day_span


def test_an_end_on_a_later_day_says_that_day_on_the_schedules_clock() -> None:
    # Sent in UTC, read in New York: the ISO text sliced read "06:00-06:14" on the 3rd.
    shown = day_span("2026-12-03T06:00:00+00:00", "2026-12-05T06:14:30+00:00", "America/New_York")
    assert shown == "2026-12-03 01:00-Sat 05 Dec 01:15", shown


def test_a_span_within_a_day_and_a_start_alone() -> None:
    start, end = "2026-12-07T09:00:00+01:00", "2026-12-07T10:30:00+01:00"
    assert day_span(start, end, "Europe/Berlin") == "2026-12-07 09:00-10:30"
    assert day_span(start, None, "UTC") == "2026-12-07 08:00"
