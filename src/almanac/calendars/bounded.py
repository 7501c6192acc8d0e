"""A remote calendar whose every call ends within a deadline (calendars/bounds.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TypeVar

from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarEvent,
    CalendarProvider,
    CalendarSlow,
    EventSpec,
    Scope,
)

T = TypeVar("T")


class Bounded(CalendarProvider):
    """`inner` with each call cut at `seconds`: `CalendarSlow` saying which step ran out.

    A cut write stops between two requests to the server (the one in flight ends first,
    calendars/threads.py); the diff of the next write finishes it."""

    def __init__(self, inner: CalendarProvider, seconds: float) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = seconds

    async def _within(self, step: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.seconds) as limit:
                return await call
        except TimeoutError as exc:
            if not limit.expired():
                raise
            raise CalendarSlow(
                f"the {self.name} calendar did not finish {step} within {self.seconds:g} s, "
                "the most a call may take while the schedule is locked (a quarter of "
                "scheduler.write_lock_timeout_seconds: raise it for a calendar this slow)"
            ) from exc

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        return await self._within("reading the window", self.inner.events(start, end))

    async def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        return await self._within("reading busy time", self.inner.busy(start, end))

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        call = self.inner.apply(desired, window_start, window_end, only)
        return await self._within("the write", call)

    async def check(self) -> None:
        await self._within("answering", self.inner.check())

    async def close(self) -> None:
        await self.inner.close()
