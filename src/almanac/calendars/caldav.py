"""A CalDAV calendar (Radicale, Nextcloud, Fastmail, iCloud, ...) through the `caldav` library.

`caldav` is synchronous, so every server call runs in a worker thread (`asyncio.to_thread`),
one at a time per provider because the underlying HTTP session is shared.

All-day events and floating times are read in the provider's `timezone` (the user's IANA
zone, UTC by default); how a VEVENT becomes an event and back is `vevent.py`. Events marked
TRANSP:TRANSPARENT or STATUS:CANCELLED, and invitations the user declined, are returned by
`events()` but do not count as busy. The user's addresses are the principal's
calendar-user-address-set (RFC 6638) and a user name that is an email address.

Split by responsibility: this module connects, retries and writes; `caldav_read.py` reads a
window (expansion under `CALDAV_LIMITS`); `caldav_principal.py` asks the principal for the
calendar and the user's addresses.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from almanac.calendars.base import (
    ApplyResult,
    CalendarConflict,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    Scope,
    answered,
    plan_changes,
    require_window,
)
from almanac.calendars.caldav_read import CALDAV_LIMITS as CALDAV_LIMITS
from almanac.calendars.caldav_read import CalDAVReads
from almanac.calendars.reasons import unreachable_reason
from almanac.calendars.threads import in_thread
from almanac.calendars.vevent import add_zones, address, build_vcalendar, set_content
from almanac.redact import mask_url, redact

T = TypeVar("T")
# Waits before the retries of a request the server answered 423 Locked (about 1.5 s in all).
LOCKED_WAITS = (0.1, 0.2, 0.4, 0.8)


class CalDAVCalendar(CalDAVReads, CalendarProvider):
    """A calendar collection on a CalDAV server.

    `calendar` is either the collection's full URL (http(s)://...) or its display name under
    the user's principal. `timezone` is the IANA zone used for all-day and floating events.
    Nothing is read from the environment.
    """

    name = "caldav"

    def __init__(
        self,
        *,
        url: str,
        calendar: str,
        username: str | None = None,
        password: str | None = None,
        timezone: str = "UTC",
        timeout: float = 10.0,
        addresses: Sequence[str] = (),
    ) -> None:
        if not url:
            raise ValueError("url is required")
        if not calendar:
            raise ValueError("calendar (name or URL) is required")
        self.url = url
        # What messages show: a password in the URL never reaches an answer or a log.
        self.shown_url = mask_url(url)
        self.calendar_ref = calendar
        self.shown_ref = mask_url(calendar)
        self.zone = ZoneInfo(timezone)
        # The caldav library loads on first use: the built-in calendar never needs it.
        from caldav.davclient import DAVClient

        # Typed as Any: caldav's annotations are partial (untyped methods, sync/async unions).
        # The timeout goes to niquests, which takes fractions of a second (caldav says int).
        self._client: Any = DAVClient(
            url=url, username=username, password=password, timeout=cast(Any, timeout)
        )
        self._calendar: Any = None
        # The user's calendar addresses (vevent.address), asked of the server only once an
        # event someone declined is read (`_owner_of`).
        self._username = username
        self._configured = frozenset(address(a) for a in addresses)  # calendar.user_addresses
        self._owner: frozenset[str] | None = None
        self._lock = asyncio.Lock()
        # Set when the caller of a write gave up: the worker thread stops before its next
        # write (see threads.in_thread).
        self._stop = threading.Event()

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, what: str, fn: Callable[[], T]) -> T:
        """Run a blocking caldav call in a thread, mapping failures to CalendarUnavailable."""
        from caldav.lib import error as caldav_error

        async with self._lock:
            try:
                result = await self._attempts(fn)
                answered()
                return result
            except (
                caldav_error.ETagMismatchError,
                caldav_error.ScheduleTagMismatchError,
                caldav_error.UidConflictError,
            ) as e:
                # Someone changed the calendar between our read and our write (a retry of the
                # idempotent apply resolves it), or an Almanac UID sits at an unexpected URL
                # outside the window: a conflict for the caller, not an outage.
                raise CalendarConflict(
                    f"calendar {self.calendar_ref!r} changed concurrently or holds a conflicting "
                    f"UID while trying to {what}: {e}"
                ) from e
            except caldav_error.AuthorizationError as e:
                raise CalendarUnavailable(
                    f"CalDAV server at {self.shown_url} refused the credentials "
                    f"while trying to {what}"
                ) from e
            except caldav_error.NotFoundError as e:
                raise CalendarUnavailable(
                    f"CalDAV calendar {self.shown_ref!r} not found at {self.shown_url} "
                    f"(while trying to {what})"
                ) from e
            except caldav_error.DAVError as e:
                raise CalendarUnavailable(
                    f"CalDAV server at {self.shown_url} failed to {what}: {redact(str(e))}"
                ) from e
            except OSError as e:  # connection refused, DNS, TLS, timeouts (requests/niquests)
                raise CalendarUnavailable(
                    f"cannot reach CalDAV server at {self.shown_url} to {what}: "
                    f"{redact(unreachable_reason(e))}"
                ) from e

    async def _attempts(self, fn: Callable[[], T]) -> T:
        """Run `fn`, again after a short wait while the server answers 423 Locked.

        Some servers (Xandikos, a git repository underneath) lock the collection during
        another client's write; that passes in milliseconds, and every call here is safe
        to repeat (reads, and writes that diff what is there)."""
        from caldav.lib import error as caldav_error

        for wait in LOCKED_WAITS:
            self._stop.clear()
            try:
                return await in_thread(fn, self._stop)
            except caldav_error.DAVError as e:
                if e.status != 423:
                    raise
            await asyncio.sleep(wait)
        self._stop.clear()
        return await in_thread(fn, self._stop)

    # -- reading (caldav_read.py) -------------------------------------------------------

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """All events overlapping [start, end), recurrences expanded, sorted by start."""
        require_window(start, end)
        pairs = await self._run("list events", lambda: self._in_window(start, end))
        return [event for _, event in pairs]

    # -- writing ----------------------------------------------------------------------------

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        """Diff and write Almanac's events in the window; the user's events are left alone."""
        require_window(window_start, window_end, "window_")
        plan_changes([], desired, (window_start, window_end))  # validate before any I/O
        return await self._run(
            "apply changes", lambda: self._apply_sync(desired, window_start, window_end, only)
        )

    def _go_on(self) -> None:
        """Between two writes: stop when the caller gave up (the diff is idempotent, so
        the next apply writes the rest)."""
        if self._stop.is_set():
            raise CalendarUnavailable(
                f"the write to {self.shown_url} was stopped before it finished"
            )

    def _apply_sync(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope,
    ) -> ApplyResult:
        # Unexpanded: Almanac never writes recurring events, and each resource must be seen
        # once so that an update or delete addresses the stored object itself.
        pairs = self._in_window(window_start, window_end, False)
        objects = {event.href: obj for obj, event in pairs}
        plan = plan_changes([e for _, e in pairs], desired, (window_start, window_end), only)
        calendar = self._get_calendar()
        for spec in plan.create:
            self._go_on()
            # The resource name follows the UID, so a leftover Almanac event of the same id
            # outside the window is overwritten rather than duplicated.
            # SEQUENCE is ours to manage: 0 when created, +1 when the times change.
            calendar.add_event(build_vcalendar(spec).to_ical().decode(), increase_seqno=False)
        for event, spec in plan.update:
            self._go_on()
            obj = objects[event.href]
            moved = event.start != spec.start or event.end != spec.end
            with obj.edit_icalendar_instance() as cal:
                vevent = next(c for c in cal.subcomponents if c.name == "VEVENT")
                set_content(vevent, spec)
                if moved:  # RFC 5545 3.8.7.4: a new start or end is a new revision
                    sequence = int(vevent.get("SEQUENCE", 0))
                    vevent.pop("SEQUENCE", None)
                    vevent.add("sequence", sequence + 1)
                vevent.pop("DTSTAMP", None)
                vevent.add("dtstamp", datetime.now(UTC))
                # The zone as written now, for the new times (an older write's may not cover
                # them, and a server may have cut it short).
                cal.subcomponents = [c for c in cal.subcomponents if c.name != "VTIMEZONE"]
                add_zones(cal)
            obj.save(increase_seqno=False)
        for event in plan.delete:
            self._go_on()
            obj = objects[event.href]
            # If-Match: an event edited since we read it raises a conflict instead of vanishing.
            if obj.etag:
                obj.delete(if_match=True)
            else:
                obj.delete()
        return plan.applied()

    async def check(self) -> None:
        """Raise CalendarUnavailable unless the server answers and the calendar exists."""
        # A request every time: the resolved calendar is cached, the server's health is not.
        await self._run("open the calendar", lambda: self._get_calendar().get_display_name())

    async def close(self) -> None:
        """Close the HTTP session."""
        await asyncio.to_thread(self._client.close)
