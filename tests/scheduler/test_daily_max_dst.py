"""A move's daily maximum counts real hours on the days clocks change (23 and 25 hours)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from almanac.calendars.base import CalendarEvent
from almanac.config import SchedulerSettings
from almanac.scheduler.conflicts import over_daily_max

TZ = ZoneInfo("Europe/Berlin")


def _other_block(day: tuple[int, int, int]) -> CalendarEvent:
    # 10:00-15:00 in Berlin, read back from the calendar in UTC: 5 hours either way.
    y, m, d = day
    return CalendarEvent(
        uid="other",
        title="Other",
        start=datetime(y, m, d, 10, tzinfo=TZ).astimezone(UTC),
        end=datetime(y, m, d, 15, tzinfo=TZ).astimezone(UTC),
        almanac_id="plan1-other-0",
    )


@pytest.mark.parametrize(
    ("day", "cap", "refused"),
    [
        # 01:00-04:00 on the day clocks go forward is 2 hours, not 3: 7 h fits a 7 h maximum.
        ((2027, 3, 28), 7.0, False),
        # 01:00-04:00 on the day clocks go back is 4 hours, not 3: 9 h is past an 8 h one.
        ((2027, 10, 31), 8.0, True),
    ],
)
def test_a_move_across_a_clock_change_counts_real_hours(
    day: tuple[int, int, int], cap: float, refused: bool
) -> None:
    settings = SchedulerSettings(daily_max_hours=cap)
    y, m, d = day
    start, end = datetime(y, m, d, 1, tzinfo=TZ), datetime(y, m, d, 4, tzinfo=TZ)
    why = over_daily_max(settings, TZ, "plan2-moved-0", start, end, [_other_block(day)])
    assert (why is not None) == refused, why
