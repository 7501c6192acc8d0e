"""Runs .ics parsing in a separate process, so a costly file never holds the event loop.

A thread would not do: expansion is pure Python and holds the GIL, and /health waited up
to seconds behind it. One spawned worker process is started on first use and reused; if a
parse outlives its budget by far (a rule the estimates missed), the worker is killed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from almanac.errors import Busy, ValidationFailed

if TYPE_CHECKING:  # the parser (icalendar, recurring-ical-events) loads in the worker
    from almanac.calendars.ics_limits import IcsLimits, ParsedCalendar

_pool: ProcessPoolExecutor | None = None
# Grace beyond the time budget before the worker is killed: spawning it takes ~1 s.
_GRACE_SECONDS = 10.0


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: the server has threads (ONNX, asyncio's executor) to not copy.
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def shutdown() -> None:
    """Stop the worker process (at the app's shutdown: it must not outlive the server)."""
    _kill()


def _kill() -> None:
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


async def parse_ics_off_loop(
    data: bytes | str,
    *,
    window: tuple[datetime, datetime],
    zone: ZoneInfo,
    limits: IcsLimits,
    owner: frozenset[str] = frozenset(),
) -> ParsedCalendar:
    """`parse_ics` in the worker process, with a hard deadline."""
    args = (data, window, zone.key, limits, owner)
    for attempt in range(2):
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_executor(), _parse, *args)
        try:
            result = await asyncio.wait_for(future, limits.time_budget_seconds + _GRACE_SECONDS)
            break
        except TimeoutError:
            _kill()
            raise ValidationFailed(
                f"reading the file took longer than {limits.time_budget_seconds:g} s",
                field="body",
            ) from None
        except BrokenProcessPool:
            # Killed under this file by another's overrun (they share the one worker):
            # this file is not at fault, and is read once more by a fresh worker.
            _kill()
            if attempt:
                raise Busy("the calendar file reader stopped twice; retry shortly") from None
    if isinstance(result, tuple):
        raise ValidationFailed(result[0], field=result[1])
    return result


def _parse(
    data: bytes | str,
    window: tuple[datetime, datetime],
    zone: str,
    limits: IcsLimits,
    owner: frozenset[str],
) -> ParsedCalendar | tuple[str, str | None]:
    from icalendar.timezone import tzp

    from almanac.calendars.ics import parse_ics

    # icalendar caches each VTIMEZONE by TZID for the whole process, the first definition
    # winning, and this process is reused: without a fresh cache a file's own zone (Outlook
    # names every custom one "Customized Time Zone") read as an earlier import's, and a TZID
    # the file never defines passed as known. Safe here: the worker parses one file at a time.
    tzp.use_zoneinfo()
    # A refusal comes back as plain data: the exception's keyword arguments do not pickle.
    try:
        return parse_ics(data, window=window, zone=ZoneInfo(zone), limits=limits, owner=owner)
    except ValidationFailed as exc:
        field = exc.errors[0]["field"] if exc.errors else None
        return (exc.message, field)
