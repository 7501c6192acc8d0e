"""Tests start clear of midnight: a test reads "today" (or this week), then the server reads
it again; a midnight between the two, in any zone the suite's days are in, made either side
a day off and the test fail at random. A test due to start in the last `MARGIN` seconds
before such a midnight waits it out instead (at most `MARGIN` once per midnight in a run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

# Far longer than a test takes between its reads of the day (seconds at most; the slowest
# browser journeys take about 5 s), so no test that starts clear of midnight runs into it.
MARGIN = 60.0

# Zones whose days the tests or the servers they start read: UTC (the default setting),
# the web tests' and scheduler tests' Berlin, the observer tests' New York; and the
# machine's own zone (date.today()) is added at each check.
ZONES: tuple[tzinfo, ...] = (UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"))


def seconds_to_midnight(now: datetime, zones: Iterable[tzinfo]) -> float:
    """Real seconds from `now` to the next midnight in any of `zones`."""
    nearest = []
    for zone in zones:
        local = now.astimezone(zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        # Subtracted in UTC: a day with a clock change has 23 or 25 real hours.
        nearest.append((midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())
    return min(nearest)


def watched_zones() -> tuple[tzinfo, ...]:
    """`ZONES` and the machine's own zone (what date.today() and datetime.now() read)."""
    local = datetime.now().astimezone().tzinfo
    return (*ZONES, local) if local is not None else ZONES


def wait_out_midnight(
    margin: float = MARGIN,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    zones: Iterable[tzinfo] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> float:
    """Sleep past a midnight due within `margin` seconds; the seconds waited (0 if none)."""
    start = now()
    wait = seconds_to_midnight(start, watched_zones() if zones is None else zones)
    if wait > margin:
        return 0.0
    past = start + timedelta(seconds=wait + 1.0)  # a second past it: the new day everywhere
    # Short sleeps checked against the wall clock, whose midnight this is (a sleep counts
    # monotonic time, which a stepped wall clock leaves behind).
    while (left := (past - now()).total_seconds()) > 0:
        sleep(min(left, 1.0))
    return wait + 1.0
