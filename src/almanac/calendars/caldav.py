"""A CalDAV calendar (Radicale, Nextcloud, Fastmail, iCloud, ...) through the `caldav` library.

`caldav` is synchronous, so every server call runs in a worker thread (`asyncio.to_thread`),
one at a time per provider because the underlying HTTP session is shared.

All-day events and floating times are read in the provider's `timezone` (the user's IANA
zone, UTC by default); how a VEVENT becomes an event and back is `vevent.py`. Events marked
TRANSP:TRANSPARENT or STATUS:CANCELLED, and invitations the user declined, are returned by
`events()` but do not count as busy. The user's addresses are the principal's
calendar-user-address-set (RFC 6638) and a user name that is an email address.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]  # caldav's own dependency

from almanac.calendars.base import (
    LAST_NOTICE,
    ApplyResult,
    CalendarConflict,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    Scope,
    overlaps,
    plan_changes,
    require_window,
)
from almanac.calendars.ics_limits import IcsLimits
from almanac.calendars.recurrence import RecurrenceBudget
from almanac.calendars.runs import Dense, dense_series, note_of, runs
from almanac.calendars.threads import in_thread
from almanac.calendars.vevent import (
    address,
    build_vcalendar,
    decliners,
    keep_durations,
    restore_duration,
    set_content,
    text,
    vevent_to_event,
    zone_note,
)
from almanac.redact import mask_url, redact

T = TypeVar("T")
# Recurrence work of one read (at most about 4 us a step): a user's series from years back
# is a few thousand steps (a yearly BYMONTH;BYMONTHDAY one since 1900, about 46,000);
# FREQ=SECONDLY from last month is millions. Steps bound each series, time the read.
CALDAV_LIMITS = IcsLimits(max_occurrences=20_000, max_rule_steps=200_000, time_budget_seconds=5.0)
# The principal's addresses per (server URL, login), read once per process.
_ADDRESSES: dict[tuple[str, str], frozenset[str]] = {}
# Waits before the retries of a request the server answered 423 Locked (about 1.5 s in all).
LOCKED_WAITS = (0.1, 0.2, 0.4, 0.8)


class CalDAVCalendar(CalendarProvider):
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
                return await self._attempts(fn)
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
                    f"cannot reach CalDAV server at {self.shown_url} to {what}: {redact(str(e))}"
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

    def _get_calendar(self) -> Any:
        """Resolve (once) the configured calendar collection; runs in the worker thread."""
        if self._calendar is None:
            ref = self.calendar_ref
            if ref.startswith(("http://", "https://")):
                cal = self._client.calendar(url=ref)
                cal.get_display_name()  # fails early if the URL is wrong or unreachable
            else:
                cal = self._client.principal().calendar(name=ref)
            self._calendar = cal
        return self._calendar

    def _owner_of(self, comp: icalendar.Component) -> frozenset[str]:
        """The user's addresses when `comp` has a declined attendee (else none are needed):
        the configured ones, a login that is an email address and the principal's mailto:
        addresses, read once per server and user (RFC 6638; a server that does not say
        leaves the others)."""
        if not decliners(comp):
            return frozenset()
        if self._owner is None:
            key = (self.url, self._username or "")
            found = _ADDRESSES.get(key)
            if found is None:
                found = self._addresses()
                if found is not None:  # a failed lookup is asked again by the next read
                    _ADDRESSES[key] = found
            login = self._username
            self._owner = (
                (found or frozenset())
                | self._configured
                | ({address(login)} if login and "@" in login else set())
            )
        return self._owner

    def _addresses(self) -> frozenset[str] | None:
        """The principal's mailto: addresses; None when the lookup failed."""
        from caldav.lib import error as caldav_error

        try:
            found = self._client.principal().calendar_user_address_set()
        except caldav_error.NotFoundError:
            return frozenset()  # an optional property the server does not keep
        except (caldav_error.DAVError, OSError, ValueError, LookupError, AttributeError):
            # Its absence must not stop reading the calendar.
            return None
        return frozenset(address(a) for a in found if a and str(a).lower().startswith("mailto:"))

    # -- reading ----------------------------------------------------------------------------

    def _to_event(self, obj: Any, comp: icalendar.Component) -> CalendarEvent | None:
        """Convert one VEVENT (an occurrence, if recurring) of a caldav object."""
        if comp.name != "VEVENT":
            return None
        restore_duration(comp)  # an exact DURATION, not the expander's wall-clock DTEND
        return vevent_to_event(
            comp,
            self.zone,
            text(comp, "UID"),
            etag=obj.etag,
            href=str(obj.url) if obj.url is not None else None,
            owner=self._owner_of(comp),
        )

    def _occurrences(
        self, obj: Any, start: datetime, end: datetime, budget: RecurrenceBudget
    ) -> list[CalendarEvent]:
        """The events of one stored object, noted when a TZID is unknown (`zone_note`)."""
        cal = obj.icalendar_instance
        vevents = list(cal.walk("VEVENT"))
        events = self._expanded(obj, cal, vevents, (start, end), budget)
        # The import refuses such a TZID (422); one odd event must not fail a whole read,
        # nor silently land at its wall-clock time in the user's zone: it is said.
        said = zone_note(vevents, self.zone)
        if not said:
            return events
        return [replace(e, note=f"{e.note}; {said}" if e.note else said) for e in events]

    def _expanded(
        self,
        obj: Any,
        cal: icalendar.Calendar,
        vevents: list[icalendar.Component],
        window: tuple[datetime, datetime],
        budget: RecurrenceBudget,
    ) -> list[CalendarEvent]:
        """The events of one stored object, recurrences expanded within about the window
        and counted against the read's `budget`; a dense series is read as runs (runs.py)."""
        start, end = window
        recurring = len(vevents) > 1 or any("RRULE" in v or "RDATE" in v for v in vevents)
        if not recurring:
            return self._events(obj, vevents)
        # Expanded here rather than with search(expand=True), whose split copies lose the
        # ETag; a day of slack each side covers floating and all-day occurrences.
        slack = timedelta(days=1)
        uid = text(vevents[0], "UID")[:200]
        keep_durations(vevents)  # the expander's copies keep the source's DURATION
        dense = dense_series(vevents, self.zone, lambda c: self._to_event(obj, c))
        if isinstance(dense, Dense):
            events = runs(dense, (start, end))
            budget.occurrences_of(uid, len(events))
            return events
        for vevent in vevents:
            budget.walk(uid, vevent, end + slack, self.zone, dense)
        try:
            found: list[Any] = recurring_ical_events.of(cal).between(start - slack, end + slack)
        except Exception as e:  # a rule or date the expander cannot read
            raise budget.refuse(f"event {uid!r}: cannot expand its recurrence: {e}") from e
        budget.occurrences_of(uid, len(found))
        return self._events(obj, found)

    def _events(self, obj: Any, comps: Sequence[Any]) -> list[CalendarEvent]:
        return [e for c in comps if (e := self._to_event(obj, c)) is not None]

    def _refuse(self, message: str) -> CalendarUnavailable:
        return CalendarUnavailable(
            f"CalDAV calendar {self.shown_ref!r} holds an event Almanac will not expand: {message}"
        )

    def _in_window(
        self, start: datetime, end: datetime, expand: bool = True
    ) -> list[tuple[Any, CalendarEvent]]:
        """(caldav object, CalendarEvent) pairs overlapping [start, end); worker thread."""
        pairs = []
        # Servers (and caldav's own post-filter) place all-day and floating events in UTC or
        # in the window's zone, not ours: ask for a day more each side and filter here.
        slack = timedelta(days=1)
        found = self._get_calendar().search(start=start - slack, end=end + slack, event=True)
        budget = RecurrenceBudget(
            CALDAV_LIMITS, self._refuse, source="read", advice="shorten or remove that series"
        )
        for obj in found:
            events = (
                self._occurrences(obj, start, end, budget)
                if expand
                else self._events(obj, obj.icalendar_instance.walk("VEVENT")[:1])
            )
            for event in events:
                # Our own overlap test: servers differ on edges, all-day and floating events.
                if overlaps(event.start, event.end, (start, end)):
                    pairs.append((obj, event))
        pairs.sort(key=lambda p: (p[1].start, p[1].uid))
        if expand:  # /health shows what the last read treated specially, if anything
            said = note_of([event for _, event in pairs])
            if said:
                LAST_NOTICE["calendar"] = (datetime.now(UTC), said)
            else:
                LAST_NOTICE.pop("calendar", None)
        return pairs

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
                cal.add_missing_timezones()
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
