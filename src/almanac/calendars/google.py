"""Google Calendar through `google-api-python-client`, with OAuth tokens from the database.

The client library is synchronous, so its calls run in a worker thread, one at a time per
provider (httplib2 connections are not thread-safe). Credentials are loaded lazily on first
use from `oauth_credentials` (decrypted with `calendar.token_key`, google_credentials.py);
google-auth refreshes the access token when it expires and the new token is saved back,
encrypted.

Almanac's events carry `extendedProperties.private.almanacId`; all others are the user's
and are only read. Writes are the diff of `plan_changes`, sent as batches; rate limits and
server errors are retried with exponential backoff and jitter. Inserts name their event id,
so an insert sent again is answered 409, never stored twice. Busy time comes from
`freebusy.query` and is cached for `calendar.busy_cache_seconds`, invalidated by our writes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httplib2
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.cache import Cache
from almanac.calendars import google_api as api
from almanac.calendars.base import (
    ApplyResult,
    BusyInterval,
    CalendarConflict,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    Scope,
    answered,
    merge_intervals,
    overlaps,
    plan_changes,
    require_window,
)
from almanac.calendars.google_credentials import RECONNECT, GoogleCredentials
from almanac.calendars.threads import in_thread
from almanac.config import GoogleCalendarSettings
from almanac.oauth.repository import DEFAULT_ACCOUNT

T = TypeVar("T")
_PAGE_SIZE = 250


class GoogleCalendar(CalendarProvider):
    """One Google calendar (`calendar.google_calendar_id`, "primary" by default).

    `base_delay` is the first backoff wait in seconds and `max_attempts` bounds every call
    (tests pass a tiny delay). Nothing is read or requested in the constructor.
    """

    name = "google"

    def __init__(
        self,
        settings: GoogleCalendarSettings,
        *,
        session: AsyncSession,
        cache: Cache,
        account: str = DEFAULT_ACCOUNT,
        base_delay: float = 0.5,
        max_attempts: int = 5,
        timeout: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.settings = settings
        self.calendar_id = settings.google_calendar_id
        self.account = account
        self.base_delay = base_delay
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._cache = cache
        self._auth = GoogleCredentials(settings, session, account, timeout)
        self._zone = ZoneInfo("UTC")  # replaced by the calendar's own zone on first listing
        self._lock = asyncio.Lock()
        # Set when the caller of a write gave up: the worker thread sends no further batch
        # (see threads.in_thread).
        self._stop = threading.Event()

    @classmethod
    def from_settings(
        cls, settings: GoogleCalendarSettings, *, session: AsyncSession, cache: Cache, **kwargs: Any
    ) -> GoogleCalendar:
        """The provider the factory builds; credentials are read on first use."""
        return cls(settings, session=session, cache=cache, **kwargs)

    # -- calls ------------------------------------------------------------------------------

    async def _thread(self, fn: Callable[[], T]) -> T:
        async with self._lock:
            # Cancelled, the batch in flight still ends before the caller goes on.
            self._stop.clear()
            return await in_thread(fn, self._stop)

    async def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        """Run `fn(service)` in the worker thread, retrying rate limits and server errors."""
        service = await self._auth.service()
        attempt = 0
        while True:
            try:
                result = await self._thread(lambda: fn(service))
            except RefreshError as e:
                if getattr(e, "retryable", False) and attempt + 1 < self.max_attempts:
                    await self._pause(attempt)
                    attempt += 1
                    continue
                raise await self._auth.refresh_failed(e) from e
            except HttpError as e:
                await self._auth.save_refreshed()
                if api.is_retriable(e) and attempt + 1 < self.max_attempts:
                    await self._pause(attempt)
                    attempt += 1
                    continue
                raise self._http_error(e, what) from e
            except (OSError, httplib2.HttpLib2Error) as e:  # refused, DNS, TLS, timeouts
                if attempt + 1 < self.max_attempts:
                    await self._pause(attempt)
                    attempt += 1
                    continue
                raise CalendarUnavailable(f"cannot reach Google Calendar to {what}: {e}") from e
            await self._auth.save_refreshed()
            answered()
            return result

    async def _pause(self, attempt: int) -> None:
        await asyncio.sleep(api.backoff_delay(attempt, self.base_delay))

    def _http_error(self, error: HttpError, what: str) -> Exception:
        status, reason = api.http_status(error), api.error_reason(error)
        label = f"HTTP {status}" + (f" {reason}" if reason else "")
        if status in (409, 412):
            return CalendarConflict(
                f"Google calendar {self.calendar_id!r} changed while trying to {what} "
                f"({label}); applying again resolves it"
            )
        if status == 401:
            return CalendarUnavailable(f"Google refused the access token ({label}): {RECONNECT}")
        if status == 404:
            return CalendarUnavailable(f"Google calendar {self.calendar_id!r} not found ({what})")
        if status == 403 and not api.is_retriable(error):
            return CalendarUnavailable(
                f"Google denied access to calendar {self.calendar_id!r} while trying to "
                f"{what} ({label}); check the granted scopes or {RECONNECT}"
            )
        return CalendarUnavailable(f"Google Calendar failed to {what} ({label})")

    # -- reading ----------------------------------------------------------------------------

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """All events overlapping [start, end), recurrences expanded, sorted by start."""
        require_window(start, end)
        found: list[CalendarEvent] = []
        token: str | None = None
        while True:
            page = await self._call("list events", self._list_page(start, end, token))
            zone = page.get("timeZone")
            if zone:
                self._zone = api.zone_or(zone, self._zone)
            for item in page.get("items") or []:
                event = api.to_event(item, self._zone)
                if event is not None and overlaps(event.start, event.end, (start, end)):
                    found.append(event)
            token = page.get("nextPageToken")
            if not token:
                break
        found.sort(key=lambda e: (e.start, e.uid))
        return found

    def _list_page(
        self, start: datetime, end: datetime, token: str | None
    ) -> Callable[[Any], dict[str, Any]]:
        def run(service: Any) -> dict[str, Any]:
            page: dict[str, Any] = (
                service.events()
                .list(
                    calendarId=self.calendar_id,
                    timeMin=api.rfc3339(start),
                    timeMax=api.rfc3339(end),
                    singleEvents=True,
                    orderBy="startTime",
                    maxResults=_PAGE_SIZE,
                    pageToken=token,
                )
                .execute()
            )
            return page

        return run

    def _namespace(self) -> str:
        return f"calendar:google:{self.account}:{self.calendar_id}"

    async def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """Busy time in [start, end) from freebusy.query, cached for busy_cache_seconds."""
        require_window(start, end)
        ttl = int(self.settings.busy_cache_seconds)
        key = None
        if ttl > 0:
            generations = await self._cache.generations([self._namespace()])
            if generations is not None:  # no cache during an outage: stale data is worse
                span = f"{start.isoformat()}:{end.isoformat()}"
                key = f"{self._namespace()}:busy:{generations[0]}:{span}"
                cached = await self._cache.get(key)
                if cached is not None:
                    return [
                        BusyInterval(datetime.fromisoformat(s), datetime.fromisoformat(e))
                        for s, e in json.loads(cached)
                    ]
        body = {
            "timeMin": api.rfc3339(start),
            "timeMax": api.rfc3339(end),
            "items": [{"id": self.calendar_id}],
        }
        answer: dict[str, Any] = await self._call(
            "read free/busy time", lambda s: s.freebusy().query(body=body).execute()
        )
        intervals = merge_intervals(api.busy_ranges(answer, self.calendar_id, start, end))
        if key is not None:
            data = [[i.start.isoformat(), i.end.isoformat()] for i in intervals]
            await self._cache.set(key, json.dumps(data).encode(), ttl)
        return intervals

    # -- writing ----------------------------------------------------------------------------

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        """Diff and write Almanac's events in the window as batches; never the user's.

        When some writes hit a rate limit or a server error, the calendar is read again and
        the remaining diff is sent after a backoff, so a write that did land is not repeated.
        Inserts carry a deterministic event id (`google_api.event_id`): one that lands after
        the diff was read (a batch Almanac stopped waiting for) makes the insert answer 409,
        settled as created, not a second event.
        """
        window = (window_start, window_end)
        require_window(window_start, window_end, "window_")
        plan_changes([], desired, window)  # validate before any I/O
        created: list[str] = []
        updated: list[str] = []
        deleted: list[str] = []
        try:
            for attempt in range(self.max_attempts):
                plan = plan_changes(await self.events(*window), desired, window, only)
                ops = api.ops_for(plan)
                outcome = await self._call(
                    "apply changes",
                    partial(
                        api.run_batches,
                        api_root=self.settings.google_api_base_url,
                        calendar_id=self.calendar_id,
                        ops=ops,
                        stop=self._stop,
                    ),
                )
                retry: HttpError | None = None
                fatal: HttpError | None = None
                taken: list[EventSpec] = []
                for op, error in zip(ops, outcome, strict=True):
                    if error is None or api.already_gone(op, error):
                        {"insert": created, "patch": updated, "delete": deleted}[op.kind].append(
                            op.almanac_id
                        )
                    elif api.is_duplicate(op, error) and op.spec is not None:
                        taken.append(op.spec)
                    elif api.is_retriable(error):
                        retry = retry or error
                    else:
                        fatal = fatal or error
                if fatal is not None:
                    raise self._http_error(fatal, "apply changes")
                if taken:
                    await self._call("confirm existing events", partial(self._settle, taken))
                    created.extend(s.almanac_id for s in taken)
                if retry is None:
                    done = set(created) | set(updated)
                    unchanged = [e.almanac_id for e in plan.unchanged if e.almanac_id not in done]
                    return ApplyResult(
                        created=created,
                        updated=updated,
                        deleted=deleted,
                        unchanged=[u for u in unchanged if u is not None],
                    )
                if attempt + 1 < self.max_attempts:
                    await self._pause(attempt)
            assert retry is not None  # every round either returned, raised or set it
            raise self._http_error(retry, "apply changes")  # still throttled or failing
        finally:
            if created or updated or deleted:
                # Busy time read before these writes is stale now.
                await self._cache.bump([self._namespace()])

    def _settle(self, specs: list[EventSpec], service: Any) -> None:
        """`settle_duplicate` for each insert answered 409 (in the worker thread)."""
        for spec in specs:
            if self._stop.is_set():
                raise CalendarUnavailable("the write to Google was stopped before it finished")
            api.settle_duplicate(service, self.calendar_id, spec, self._zone)

    async def check(self) -> None:
        """Raise CalendarUnavailable unless the credentials work and the calendar answers."""
        now = datetime.now(UTC)
        await self._call(
            "open the calendar",
            lambda s: (
                s.events()
                .list(calendarId=self.calendar_id, timeMin=api.rfc3339(now), maxResults=1)
                .execute()
            ),
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        service = self._auth.release()
        if service is not None:
            await self._thread(service.close)
