"""The calendar provider interface and the provider-independent diff behind `apply`.

Almanac owns an event when it carries an `almanac_id`: in iCalendar that is an event whose UID
is `event_uid(almanac_id)` (`almanac-{almanac_id}@almanac`), marked also by `X-ALMANAC-ID`.
Everything else in the calendar belongs to the user and is only ever read.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from almanac.errors import Conflict, DependencyUnavailable

UID_PREFIX = "almanac-"
UID_SUFFIX = "@almanac"
ALMANAC_ID_PROPERTY = "X-ALMANAC-ID"
# Zone keys that all mean UTC; written as `...Z` rather than with a TZID.
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})

# RFC 5545 CONTROL characters (3.1: forbidden in TEXT values; strict apps reject the file),
# tab aside, and the C1 controls U+0080-U+009F (Unicode Cc like them; a NEL or CSI from a
# mis-decoded Windows-1252 paste broke the same apps); line breaks are kept, as "\n", which
# iCalendar writes escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]+")


def calendar_text(value: str) -> str:
    """`value` fit for an iCalendar TEXT value: line breaks kept (CR LF and CR as LF),
    every other run of control characters one space (a title holding a BEL or an ESC went
    into the feed as it was, and strict calendar apps refused the whole file)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_CONTROL.sub(" ", line) for line in lines)


# The last failed calendar request in this process (monotonic time, message): /health reports
# the calendar degraded from that moment instead of trusting a probe cached minutes earlier.
LAST_FAILURE: dict[str, tuple[float, str]] = {}
# The last calendar request that was answered (monotonic time): a degraded /health entry
# older than it is probed again at once, so the calendar coming back shows at once too.
LAST_ANSWERED: dict[str, float] = {}


def answered() -> None:
    """Note that a request to the remote calendar was answered just now."""
    LAST_ANSWERED["calendar"] = time.monotonic()


# The last read that had to treat an event specially (calendars/runs.py): (when, an aware
# UTC time, message), shown by /health beside an "ok" calendar with its time, so a reader
# can tell an old notice.
LAST_NOTICE: dict[str, tuple[datetime, str]] = {}


# How long a client is told to wait before asking again while the calendar is unavailable.
CALENDAR_RETRY_AFTER_SECONDS = 30


class CalendarUnavailable(DependencyUnavailable, title="Calendar unavailable"):
    """The calendar server cannot be reached, refused our credentials or failed."""

    def __init__(self, message: str, *args: Any, **kwargs: Any) -> None:
        # A 503 says when to ask again, as the database's and the Gateway's do.
        kwargs.setdefault("headers", {"Retry-After": str(CALENDAR_RETRY_AFTER_SECONDS)})
        super().__init__(message, *args, **kwargs)
        LAST_FAILURE["calendar"] = (time.monotonic(), message)


class CalendarSlow(CalendarUnavailable):
    """The calendar answers, but not within what a call may take under the schedule
    writers' lock (calendars/bounds.py): a pending write waits for it without end."""


class CalendarConflict(Conflict, title="Calendar changed concurrently"):
    """The calendar changed under us (ETag/UID conflict) while applying; retrying resolves it."""


def require_aware(value: datetime, name: str) -> None:
    """Raise ValueError naming `name` unless `value` is a timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")


def earlier(a: datetime, b: datetime) -> bool:
    """Whether instant `a` is before `b`. Two times sharing a zoneinfo compare by the wall
    clock, so 02:30 summer time and 02:30 winter time (`fold=1`), an hour apart in autumn,
    read as equal; only a time in that repeated hour needs comparing in UTC (a hot path:
    the conversion costs thirty plain comparisons)."""
    if a.fold or b.fold:
        return a.astimezone(UTC) < b.astimezone(UTC)
    return a < b


def require_window(start: datetime, end: datetime, prefix: str = "") -> None:
    """Validate a [start, end) range of aware datetimes with end after start."""
    require_aware(start, f"{prefix}start")
    require_aware(end, f"{prefix}end")
    if not earlier(start, end):
        raise ValueError(f"{prefix}end must be after {prefix}start")


def event_span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The [start, end) an event read from a calendar blocks, for every provider alike.

    RFC 5545 3.8.2.2 says DTEND MUST be later than DTSTART, so an event ending before it
    starts (ends typed the wrong way round, a negative DURATION) is invalid, and no reading
    of it is the right one. It is read swapped, from the earlier time to the later: the
    expander every series goes through (recurring-ical-events) already read recurring ones
    so, and a zero-length reading would let Almanac schedule work over a meeting the user
    sees in their calendar. Equal ends stay a zero-length event.
    """
    return (end, start) if end < start else (start, end)


def zone_name(value: datetime) -> str:
    """The IANA zone an aware datetime is expressed in; "UTC" for UTC and fixed offsets.

    Fixed offsets have no IANA name, so providers store them as UTC; comparing by this name
    keeps `apply` idempotent for them.
    """
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo) and tz.key not in _UTC_KEYS:
        return tz.key
    return "UTC"


def event_uid(almanac_id: str) -> str:
    """The iCalendar UID of the event Almanac keeps for `almanac_id`."""
    return f"{UID_PREFIX}{almanac_id}{UID_SUFFIX}"


def almanac_id_from_uid(uid: str) -> str | None:
    """Invert `event_uid`; None for UIDs Almanac did not make."""
    if uid.startswith(UID_PREFIX) and uid.endswith(UID_SUFFIX):
        inner = uid[len(UID_PREFIX) : len(uid) - len(UID_SUFFIX)]
        return inner or None
    return None


@dataclass(frozen=True)
class BusyInterval:
    """A stretch of time in which the calendar has something (half-open, [start, end))."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_window(self.start, self.end)


@dataclass(frozen=True)
class CalendarEvent:
    """An event as read from a calendar; `almanac_id` is None for the user's own events.

    All-day events (`all_day=True`) carry the whole day(s) as aware datetimes at midnight in
    the provider's zone.
    """

    uid: str
    title: str
    start: datetime
    end: datetime
    description: str = ""
    almanac_id: str | None = None
    etag: str | None = None
    href: str | None = None
    all_day: bool = False
    # False for events that do not block time: marked free (TRANSP:TRANSPARENT) or cancelled.
    busy: bool = True
    # Why the event is not one occurrence as stored: a dense series read as one stretch
    # (calendars/runs.py). Responses and /health repeat it.
    note: str = ""

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        require_aware(self.end, "end")


@dataclass(frozen=True)
class EventSpec:
    """An event Almanac wants to exist in the calendar."""

    almanac_id: str
    title: str
    start: datetime
    end: datetime
    description: str = ""

    def __post_init__(self) -> None:
        if not self.almanac_id or any(c in self.almanac_id for c in "\r\n"):
            raise ValueError("almanac_id must be a non-empty single-line string")
        require_window(self.start, self.end)
        # Cleaned here, once, for every provider: CalDAV writes iCalendar, and the diff in
        # `apply` compares with what each calendar reads back, so all must get the same.
        object.__setattr__(self, "title", calendar_text(self.title))
        object.__setattr__(self, "description", calendar_text(self.description))

    @property
    def uid(self) -> str:
        return event_uid(self.almanac_id)


@dataclass(frozen=True)
class ApplyResult:
    """What `apply` did, as almanac_ids per outcome."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class CalendarChanges(NamedTuple):
    """The changes `plan_changes` found; `update` pairs the existing event with its new spec.

    (Named apart from `models.Plan`, the user's plan: this is one diff of calendar events.)
    """

    create: list[EventSpec]
    update: list[tuple[CalendarEvent, EventSpec]]
    delete: list[CalendarEvent]
    unchanged: list[CalendarEvent]

    def applied(self) -> ApplyResult:
        """The result of carrying out every change."""
        return ApplyResult(
            created=[s.almanac_id for s in self.create],
            updated=[s.almanac_id for _, s in self.update],
            deleted=[owned_id(e) for e in self.delete],
            unchanged=[owned_id(e) for e in self.unchanged],
        )


def owned_id(event: CalendarEvent) -> str:
    """The almanac_id of one of Almanac's own events."""
    assert event.almanac_id is not None  # plan_changes only returns Almanac's events
    return event.almanac_id


def same_content(event: CalendarEvent, spec: EventSpec) -> bool:
    """True if `event` already shows what `spec` asks for (same instants and zones too)."""
    return (
        event.title == spec.title
        and (event.description or "") == (spec.description or "")
        and event.start == spec.start
        and event.end == spec.end
        and zone_name(event.start) == zone_name(spec.start)
        and zone_name(event.end) == zone_name(spec.end)
    )


def overlaps(start: datetime, end: datetime, window: tuple[datetime, datetime]) -> bool:
    """Whether [start, end) meets the window [w0, w1); zero-length events count at their start."""
    w0, w1 = window
    if start.fold or end.fold or w0.fold or w1.fold:  # see `earlier`
        start, end, w0, w1 = (v.astimezone(UTC) for v in (start, end, w0, w1))
    if start == end:
        return w0 <= start < w1
    return start < w1 and end > w0


# Which of Almanac's events a diff may change, by almanac_id (None: all of them).
Scope = Callable[[str], bool] | None


def plan_changes(
    existing: Iterable[CalendarEvent],
    desired: Sequence[EventSpec],
    window: tuple[datetime, datetime],
    only: Scope = None,
) -> CalendarChanges:
    """Diff the calendar's events against the desired Almanac events within `window`.

    Only events with an `almanac_id` (that `only` accepts, when given) are considered; the
    user's events, and Almanac's outside `only`, are ignored. Existing
    Almanac events outside the window are neither compared nor deleted. When an almanac_id
    occurs more than once in the calendar (e.g. a client duplicated it), the first is kept
    and the extras are deleted so that one event per id remains. Desired specs must overlap
    the window and have unique almanac_ids (ValueError otherwise).
    """
    require_window(window[0], window[1], "window_")
    wanted: dict[str, EventSpec] = {}
    for spec in desired:
        if spec.almanac_id in wanted:
            raise ValueError(f"duplicate almanac_id in desired events: {spec.almanac_id!r}")
        if not overlaps(spec.start, spec.end, window):
            raise ValueError(f"event {spec.almanac_id!r} lies outside the window")
        wanted[spec.almanac_id] = spec

    update: list[tuple[CalendarEvent, EventSpec]] = []
    delete: list[CalendarEvent] = []
    unchanged: list[CalendarEvent] = []
    seen: set[str] = set()
    for event in existing:
        aid = event.almanac_id
        if aid is None or not overlaps(event.start, event.end, window):
            continue
        if only is not None and not only(aid):
            continue
        if aid in seen or aid not in wanted:
            delete.append(event)
            continue
        seen.add(aid)
        spec = wanted[aid]
        if same_content(event, spec):
            unchanged.append(event)
        else:
            update.append((event, spec))
    create = [spec for aid, spec in wanted.items() if aid not in seen]
    return CalendarChanges(create=create, update=update, delete=delete, unchanged=unchanged)


def merge_intervals(intervals: Iterable[tuple[datetime, datetime]]) -> list[BusyInterval]:
    """Merge overlapping or touching [start, end) ranges into sorted, disjoint intervals (UTC)."""
    ranges = sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in intervals if e > s)
    merged: list[list[datetime]] = []
    for s, e in ranges:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [BusyInterval(s, e) for s, e in merged]


class CalendarProvider(ABC):
    """A calendar Almanac reads busy time from and writes its planned blocks into.

    All datetimes passed in must be timezone-aware (ValueError naming the field otherwise).
    Failures to reach the calendar raise `CalendarUnavailable` (503).
    """

    name: str

    @abstractmethod
    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """All events (Almanac's and the user's) overlapping [start, end), sorted by start."""

    async def busy(self, start: datetime, end: datetime) -> list[BusyInterval]:
        """Busy time in [start, end): all events merged into disjoint intervals, clipped."""
        require_window(start, end)
        events = await self.events(start, end)
        return merge_intervals((max(e.start, start), min(e.end, end)) for e in events if e.busy)

    @abstractmethod
    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        """Make the Almanac events in the window match `desired` (see `plan_changes`).

        Creates missing events, updates changed ones, deletes Almanac events in the window
        that are no longer desired and leaves identical ones alone; never touches the user's,
        nor, with `only`, Almanac's events whose almanac_id it refuses.
        """

    async def remove(
        self, owned: Callable[[str], bool], start: datetime, end: datetime
    ) -> list[str]:
        """Delete Almanac's events in [start, end) whose almanac_id `owned` accepts; returns
        their ids. Idempotent: what is gone already is not counted again.

        One `apply` of nothing scoped to `owned`, so each provider's own diff, conditional
        deletes and retries do the work, and Almanac's other events are not part of it: one
        another writer adds or moves meanwhile (no writers' lock is held here) stays as
        that writer left it.
        """
        require_window(start, end)
        result = await self.apply([], start, end, only=owned)
        return [aid for aid in result.deleted if owned(aid)]

    @abstractmethod
    async def check(self) -> None:
        """Raise `CalendarUnavailable` if the calendar cannot be used (for /health)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP sessions)."""
