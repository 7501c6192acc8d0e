"""A remote calendar with the events added through Almanac itself.

`almanac calendar add`, `POST /api/v1/calendar/events` and .ics imports keep the user's
events in Postgres whatever the provider. With CalDAV or Google configured they were
accepted and then ignored: a dentist appointment added that way did not block time, and
the week view did not show it. Read here, they are busy time beside the remote calendar's
events; writes (Almanac's blocks) go to the remote calendar only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarEvent,
    CalendarProvider,
    EventSpec,
    Scope,
    merge_intervals,
    require_window,
)


class WithLocalEvents(CalendarProvider):
    """`remote`, its events read with the user's own events of `local` (the built-in store:
    rows without an Almanac id; blocks left there by an earlier built-in setup are not)."""

    def __init__(self, remote: CalendarProvider, local: CalendarProvider) -> None:
        self.remote = remote
        self.local = local
        self.name = remote.name

    async def _own(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        return [e for e in await self.local.events(start, end) if e.almanac_id is None]

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        both = [*await self.remote.events(start, end), *await self._own(start, end)]
        return sorted(both, key=lambda e: (e.start, e.uid))

    async def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        require_window(start, end)
        spans = [(b.start, b.end) for b in await self.remote.busy(start, end)]
        for e in await self._own(start, end):
            if e.busy:
                spans.append((max(e.start, start), min(e.end, end)))
        return merge_intervals(spans)

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        return await self.remote.apply(desired, window_start, window_end, only)

    async def check(self) -> None:
        await self.remote.check()

    async def close(self) -> None:
        await self.remote.close()
