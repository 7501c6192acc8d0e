"""Google Calendar v3 plumbing for `GoogleCalendar`: JSON shapes, errors, backoff, batches.

Everything here is synchronous and runs in the provider's worker thread, except the pure
conversions and classifications.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from almanac.calendars.base import (
    CalendarChanges,
    CalendarEvent,
    CalendarUnavailable,
    EventSpec,
    event_span,
    same_content,
    zone_name,
)

ALMANAC_ID_KEY = "almanacId"  # extendedProperties.private key marking Almanac's events
BATCH_LIMIT = 50  # Google's advice for Calendar batches (hard limit 1000)
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# How many deterministic ids one block's insert tries before Google picks one (see event_id).
ID_GENERATIONS = 8


def build_service(credentials: Any, api_root: str | None, timeout: float) -> Any:
    """A Calendar v3 client from the bundled discovery document (no network here)."""
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    options = {"api_endpoint": api_root.rstrip("/") + "/calendar/v3/"} if api_root else None
    return build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options=options,
    )


def new_batch(service: Any, api_root: str | None, callback: Callable[..., None]) -> Any:
    """A batch request; with an API root override the batch endpoint moves with it."""
    if api_root:
        # The discovery document's batch URI keeps Google's root even when api_endpoint
        # is overridden, which would send the batch past the override.
        return BatchHttpRequest(
            callback=callback, batch_uri=api_root.rstrip("/") + "/batch/calendar/v3"
        )
    return service.new_batch_http_request(callback=callback)


# -- errors and backoff -----------------------------------------------------------------------


def error_reason(error: HttpError) -> str:
    """The first `errors[].reason` (or `error.status`) of a Google error body, or ""."""
    try:
        body = json.loads(error.content or b"{}")
    except ValueError:
        return ""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ""
    for item in err.get("errors") or []:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return str(err.get("status") or "")


def http_status(error: HttpError) -> int:
    return int(error.resp.status)


def is_retriable(error: HttpError) -> bool:
    """Rate limits (429, 403 rate reasons) and server errors are worth another try."""
    status = http_status(error)
    if status == 429 or status >= 500:
        return True
    return status == 403 and error_reason(error) in _RATE_REASONS


def backoff_delay(attempt: int, base: float, cap: float = 32.0) -> float:
    """Exponential backoff with jitter: a random wait in [b/2, b], b = base * 2**attempt."""
    ceiling = min(cap, base * float(2**attempt))
    # Jitter spreads clients that were throttled together over time (Google's advice).
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# -- events -----------------------------------------------------------------------------------


def _time_field(value: datetime) -> dict[str, str]:
    name = zone_name(value)
    local = value.astimezone(UTC if name == "UTC" else ZoneInfo(name))
    return {"dateTime": local.isoformat(), "timeZone": name}


def content_body(spec: EventSpec) -> dict[str, Any]:
    """The fields `apply` compares (title, description, start, end) as Google JSON."""
    return {
        "summary": spec.title,
        "description": spec.description,
        "start": _time_field(spec.start),
        "end": _time_field(spec.end),
    }


def event_id(spec: EventSpec, generation: int = 0) -> str:
    """The id Almanac asks Google to give the event of `spec` (insert is then idempotent).

    Derived from what makes an insert the same write, the almanac_id and the instants (with
    their zones), so a retry of a batch whose answer was lost sends the same id and Google
    answers 409 instead of creating a second event. `generation` moves on past an id a
    deleted event still holds (Google keeps cancelled events, and their ids, indefinitely).
    base32hex (a-v, 0-9), 52 characters: within Google's 5-1024.
    """
    parts = [spec.almanac_id, spec.start.isoformat(), zone_name(spec.start)]
    parts += [spec.end.isoformat(), zone_name(spec.end), str(generation)]
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def insert_body(spec: EventSpec, generation: int = 0) -> dict[str, Any]:
    """A new Almanac event: its id, its content and the private almanacId marker."""
    body = content_body(spec)
    body["id"] = event_id(spec, generation)
    body["extendedProperties"] = {"private": {ALMANAC_ID_KEY: spec.almanac_id}}
    return body


def zone_or(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The IANA zone `name`, or `fallback` when it is unset or unknown."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def _parse_time(field: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, bool]:
    """An aware datetime for a Google start/end, and whether it was an all-day date."""
    if "date" in field:
        # All-day: midnight in the calendar's zone, like CalDAV's DATE values.
        return datetime.combine(date.fromisoformat(field["date"]), time(0), tzinfo=zone), True
    value = datetime.fromisoformat(field["dateTime"])
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_or(field.get("timeZone"), zone))
    if field.get("timeZone"):
        # Express it in the zone it was written in, so `apply` sees the same zone again.
        value = value.astimezone(zone_or(field["timeZone"], ZoneInfo("UTC")))
    return value, False


def to_event(item: dict[str, Any], zone: ZoneInfo) -> CalendarEvent | None:
    """A CalendarEvent for one `events.list` item; None for cancelled or timeless items;
    not busy when marked free or declined by the owner."""
    if item.get("status") == "cancelled" or "start" not in item or "end" not in item:
        return None
    start, all_day = _parse_time(item["start"], zone)
    end, _ = _parse_time(item["end"], zone)
    start, end = event_span(start, end)
    private = (item.get("extendedProperties") or {}).get("private") or {}
    almanac_id = private.get(ALMANAC_ID_KEY) or None
    return CalendarEvent(
        uid=str(item.get("iCalUID") or item.get("id") or ""),
        title=str(item.get("summary") or ""),
        start=start,
        end=end,
        description=str(item.get("description") or ""),
        almanac_id=almanac_id,
        etag=item.get("etag"),
        href=item.get("id"),
        all_day=all_day,
        busy=item.get("transparency") != "transparent" and not declined(item),
    )


def declined(item: dict[str, Any]) -> bool:
    """Whether the calendar's owner declined the invitation `item` (its attendee marked
    `self`): Google lists such events, but the time is free, as freebusy.query says."""
    return any(
        a.get("self") and a.get("responseStatus") == "declined"
        for a in item.get("attendees") or []
        if isinstance(a, dict)
    )


def busy_ranges(
    answer: dict[str, Any], calendar_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The busy ranges of `calendar_id` in a freebusy.query answer, clipped to the window."""
    entry = (answer.get("calendars") or {}).get(calendar_id) or {}
    if entry.get("errors"):
        reasons = ", ".join(str(e.get("reason")) for e in entry["errors"])
        raise CalendarUnavailable(
            f"Google could not read free/busy time of {calendar_id!r}: {reasons}"
        )
    ranges = []
    for item in entry.get("busy") or []:
        s, e = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
        ranges.append((max(s, start), min(e, end)))
    return ranges


def rfc3339(value: datetime) -> str:
    """UTC RFC 3339 with a `Z`, as Google's timeMin/timeMax want."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- batched writes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One write of `apply`: insert a spec, or patch/delete an existing Almanac event."""

    kind: Literal["insert", "patch", "delete"]
    almanac_id: str
    event_id: str | None = None
    etag: str | None = None
    body: dict[str, Any] | None = None
    spec: EventSpec | None = None  # an insert's: settling a 409 needs it

    def request(self, service: Any, calendar_id: str) -> Any:
        """The googleapiclient request; patch and delete are conditional on the ETag."""
        events = service.events()
        if self.kind == "insert":
            return events.insert(calendarId=calendar_id, body=self.body)
        if self.kind == "patch":
            req = events.patch(calendarId=calendar_id, eventId=self.event_id, body=self.body)
        else:
            req = events.delete(calendarId=calendar_id, eventId=self.event_id)
        if self.etag:
            # If-Match: an event edited since we read it answers 412 instead of being lost.
            req.headers["If-Match"] = self.etag
        return req


def ops_for(plan: CalendarChanges) -> list[Op]:
    """The writes that carry out a plan: inserts, then patches, then deletes."""
    ops = [Op("insert", s.almanac_id, body=insert_body(s), spec=s) for s in plan.create]
    for event, spec in plan.update:
        ops.append(Op("patch", spec.almanac_id, event.href, event.etag, content_body(spec)))
    for event in plan.delete:
        assert event.almanac_id is not None  # plan_changes only deletes Almanac's events
        ops.append(Op("delete", event.almanac_id, event.href, event.etag))
    return ops


def already_gone(op: Op, error: HttpError) -> bool:
    """A delete answered 404/410: the event is gone already, which is what we wanted."""
    return op.kind == "delete" and http_status(error) in (404, 410)


def is_duplicate(op: Op, error: HttpError) -> bool:
    """An insert answered 409: an event holds its id already (see `settle_duplicate`)."""
    return op.kind == "insert" and http_status(error) == 409


def settle_duplicate(service: Any, calendar_id: str, spec: EventSpec, zone: ZoneInfo) -> None:
    """Make `spec`'s event exist after its insert was answered 409 "duplicate".

    The event holding the id is ours and live when an earlier send of this very insert
    landed (a batch whose answer was lost, or one Almanac stopped waiting for): that is the
    event, with its content patched if it differs. A cancelled event (deleted, but Google
    keeps its id) or another one's passes to the next generation's id, which is inserted
    the same way; after ID_GENERATIONS Google picks the id.
    """
    events = service.events()
    for generation in range(ID_GENERATIONS):
        body = insert_body(spec, generation)
        if generation > 0:
            try:
                events.insert(calendarId=calendar_id, body=body).execute()
                return
            except HttpError as e:
                if http_status(e) != 409:
                    raise
        try:
            item = events.get(calendarId=calendar_id, eventId=body["id"]).execute()
        except HttpError as e:
            if http_status(e) not in (404, 410):
                raise
            continue  # purged meanwhile: nothing there to be ours
        found = to_event(item, zone)
        if found is None or found.almanac_id != spec.almanac_id:
            continue
        if not same_content(found, spec):
            req = events.patch(calendarId=calendar_id, eventId=body["id"], body=content_body(spec))
            if found.etag:
                req.headers["If-Match"] = found.etag
            req.execute()
        return
    body = insert_body(spec)
    del body["id"]
    events.insert(calendarId=calendar_id, body=body).execute()


def run_batches(
    service: Any,
    *,
    api_root: str | None,
    calendar_id: str,
    ops: list[Op],
    stop: threading.Event | None = None,
) -> list[HttpError | None]:
    """Send `ops` as batches of BATCH_LIMIT; the error (or None) of each op, in order.

    A failure of a whole batch request counts as that error for each op in it. `stop` set
    (the caller gave up) sends no further batch: the next diff writes the rest.
    """
    outcome: list[HttpError | None] = [None] * len(ops)
    for first in range(0, len(ops), BATCH_LIMIT):
        if stop is not None and stop.is_set():
            raise CalendarUnavailable("the write to Google was stopped before it finished")
        chunk = ops[first : first + BATCH_LIMIT]

        def done(request_id: str, _response: Any, exception: HttpError | None) -> None:
            outcome[int(request_id)] = exception

        batch = new_batch(service, api_root, done)
        for offset, op in enumerate(chunk):
            batch.add(op.request(service, calendar_id), request_id=str(first + offset))
        try:
            batch.execute()
        except HttpError as e:
            for index in range(first, first + len(chunk)):
                outcome[index] = e
    return outcome
