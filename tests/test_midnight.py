"""The suite's midnight guard (tests/midnight.py): the nearest midnight of the zones it watches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.midnight import ZONES, seconds_to_midnight, wait_out_midnight

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2027, 1, 14, 22, 59, 30, tzinfo=UTC), 30),  # Berlin's, at 23:59:30 there
        (datetime(2027, 7, 14, 21, 59, 30, tzinfo=UTC), 30),  # Berlin's in summer time
        (datetime(2027, 1, 14, 23, 30, tzinfo=UTC), 1800),  # UTC's: Berlin's has passed
        (datetime(2027, 1, 15, 4, 59, 59, tzinfo=UTC), 1),  # New York's
        (datetime(2027, 1, 15, 12, 0, tzinfo=UTC), 11 * 3600),  # noon UTC: Berlin's, at 13:00
    ],
)
def test_the_nearest_midnight_of_the_watched_zones(now: datetime, seconds: int) -> None:
    assert seconds_to_midnight(now, ZONES) == seconds


def test_a_day_with_a_clock_change_counts_real_seconds() -> None:
    # Berlin's 2027-03-28 has 23 hours: from 00:00:00 there, 23 h to the next midnight.
    start = datetime(2027, 3, 28, tzinfo=BERLIN)
    assert seconds_to_midnight(start, [BERLIN]) == 23 * 3600
    # New York's 2027-11-07 has 25.
    assert seconds_to_midnight(datetime(2027, 11, 7, tzinfo=NEW_YORK), [NEW_YORK]) == 25 * 3600


class Clock:
    """A wall clock that moves only when slept on."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


def test_the_guard_sleeps_a_second_past_a_near_midnight_and_not_otherwise() -> None:
    near = Clock(datetime(2027, 1, 14, 22, 59, 30, 500000, tzinfo=UTC))  # Berlin's in 29.5 s
    assert wait_out_midnight(60, now=near.now, zones=ZONES, sleep=near.sleep) == 30.5
    assert near.at == datetime(2027, 1, 14, 23, 0, 1, tzinfo=UTC)
    assert max(near.slept) <= 1.0  # in short steps against the wall clock
    far = Clock(datetime(2027, 1, 14, 22, 58, 59, tzinfo=UTC))  # in 61 s: past the margin
    assert wait_out_midnight(60, now=far.now, zones=ZONES, sleep=far.sleep) == 0
    assert far.slept == []
