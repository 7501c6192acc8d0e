"""Runs .ics parsing in a worker process of its own (`almanac.offload`), so a costly file
never holds the event loop: /health waited up to seconds behind expansion in a thread. If a
parse outlives its budget by far (a rule the estimates missed), the worker is killed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from almanac.offload import Worker

if TYPE_CHECKING:  # the parser (icalendar, recurring-ical-events) loads in the worker
    from almanac.calendars.ics_limits import IcsLimits, ParsedCalendar

_worker = Worker("the calendar file reader", field="body")
# Grace beyond the time budget before the worker is killed: spawning it takes ~1 s.
_GRACE_SECONDS = 10.0


def shutdown() -> None:
    """Stop the worker process (at the app's shutdown: it must not outlive the server)."""
    _worker.shutdown()


async def parse_ics_off_loop(
    data: bytes | str,
    *,
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    limits: IcsLimits,
    owner: frozenset[str] = frozenset(),
) -> ParsedCalendar:
    """`parse_ics` in the worker process, with a hard deadline."""
    return await _worker.run(
        _parse,
        data,
        window,
        zone.key,
        limits,
        owner,
        budget=limits.time_budget_seconds,
        grace=_GRACE_SECONDS,
    )


def _parse(
    data: bytes | str,
    window: tuple[datetime, datetime],
    zone: str,
    limits: IcsLimits,
    owner: frozenset[str],
) -> ParsedCalendar:
    from icalendar.timezone import tzp

    from almanac.calendars.ics import parse_ics

    # icalendar caches each VTIMEZONE by TZID for the whole process, the first definition
    # winning, and this process is reused: without a fresh cache a file's own zone (Outlook
    # names every custom one "Customized Time Zone") read as an earlier import's, and a TZID
    # the file never defines passed as known. Safe here: the worker parses one file at a time.
    tzp.use_zoneinfo()
    return parse_ics(data, window=window, zone=ZoneInfo(zone), limits=limits, owner=owner)
