"""The built-in calendar's own operations: user events, .ics import and the feed.

Works on `calendar_entries` directly, whichever provider scheduling is configured to use.
Never commits: the request (`UoW`) or the CLI's unit of work does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import CalendarEvent, zone_name
from almanac.calendars.builtin import entry_to_event, zone_metadata
from almanac.calendars.ics_limits import IcsLimits
from almanac.calendars.ics_worker import parse_ics_off_loop
from almanac.calendars.repository import CalendarEntryRepository
from almanac.calendars.schemas import (
    DeletedEventOut,
    EventIn,
    EventOut,
    ImportOut,
    OptionalWindow,
    WindowQuery,
)
from almanac.errors import Conflict, NotFound
from almanac.models import CalendarEntry

FEED_PAST = timedelta(days=30)
# What an import reads when no window is given: recent past to a year ahead.
IMPORT_PAST = timedelta(days=30)
IMPORT_FUTURE = timedelta(days=365)


def to_out(entry: CalendarEntry) -> EventOut:
    """The API view of an entry, in the zones it was written in."""
    event = entry_to_event(entry)
    return EventOut(
        id=entry.id,
        uid=entry.uid,
        title=event.title,
        description=event.description,
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        busy=event.busy,
        almanac_id=entry.almanac_id,
        sequence=entry.sequence,
        source="user" if entry.almanac_id is None else "almanac",
    )


def _same(old: CalendarEvent, new: CalendarEvent) -> bool:
    """Whether a re-imported event shows nothing new (instants, zones and flags too)."""
    return (
        (old.title, old.description, old.all_day, old.busy)
        == (new.title, new.description, new.all_day, new.busy)
        and (old.start, old.end) == (new.start, new.end)
        and (zone_name(old.start), zone_name(old.end)) == (zone_name(new.start), zone_name(new.end))
    )


def _differs(existing: EventOut, body: EventIn) -> list[str]:
    """The fields in which a retried create asks for another event than the one its key
    made (none: the same event)."""
    said = {
        "title": (existing.title, body.title),
        "description": (existing.description, body.description),
        "busy": (existing.busy, body.busy),
        "start": (existing.start, body.start),
        "end": (existing.end, body.end),
        "all_day": (existing.all_day, False),  # the key of an imported all-day event
    }
    return [name for name, (stored, asked) in said.items() if stored != asked]


def _import_window(query: OptionalWindow) -> tuple[datetime, datetime]:
    """The import's window; a missing end is placed so that it always follows the start."""
    now = datetime.now(UTC)
    if query.start is not None and query.end is not None:
        return query.start, query.end
    if query.end is not None:
        return min(now, query.end) - IMPORT_PAST, query.end
    start = query.start or now - IMPORT_PAST
    return start, max(now, start) + IMPORT_FUTURE


class CalendarService:
    """User events of the built-in calendar. `timezone` reads all-day and floating times;
    `addresses` are the user's own (`factory.user_addresses`), whose declined invitations
    an import reads as free time."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        timezone: str = "UTC",
        ics_limits: IcsLimits | None = None,
        addresses: Collection[str] = (),
    ) -> None:
        self.repo = CalendarEntryRepository(session)
        self.ics_limits = ics_limits or IcsLimits()
        self.zone = ZoneInfo(timezone)
        self.addresses = frozenset(addresses)

    async def create_event(self, body: EventIn) -> tuple[EventOut, bool]:
        """Add a user event; (event, created). A repeated idempotency key returns the first,
        or 409 when the retry asks for a different event."""
        uid = body.idempotency_key or f"user-{uuid.uuid4().hex}@almanac"
        values = {
            "uid": uid,
            "title": body.title,
            "description": body.description,
            "start_at": body.start,
            "end_at": body.end,
            "all_day": False,
            "busy": body.busy,
            "almanac_id": None,
            "metadata": {**zone_metadata(body.start, body.end), "source": "api"},
        }
        entry = await self.repo.insert_if_absent(values)
        if entry is not None:
            return to_out(entry), True
        existing = to_out((await self.repo.by_uids([uid]))[uid])
        if differs := _differs(existing, body):
            # Named as remember names them: a client sees what it changed between tries.
            raise Conflict(
                f"idempotency_key {uid!r} was already used for a different event (it differs "
                f"in {', '.join(differs)}); use a new key for a new event",
                errors=[{"field": f, "message": "differs from the stored event"} for f in differs],
            )
        return existing, False

    async def list_events(self, window: WindowQuery) -> list[EventOut]:
        """Every entry (the user's and Almanac's) overlapping the window, by start."""
        entries = await self.repo.in_window(window.start, window.end)
        return [to_out(e) for e in entries]

    async def delete_event(self, entry_id: int) -> DeletedEventOut:
        """Delete a user event; Almanac's blocks are changed by replanning only."""
        entry = await self.repo.get(entry_id)
        if entry is None:
            raise NotFound(f"calendar event {entry_id} does not exist")
        if entry.almanac_id is not None:
            raise Conflict(
                f"calendar event {entry_id} is a block Almanac scheduled "
                f"({entry.almanac_id!r}); replan or reschedule instead of deleting it",
                field="event_id",
            )
        await self.repo.delete_ids([entry_id])
        return DeletedEventOut(id=entry_id, uid=entry.uid)

    async def import_ics(
        self, data: bytes | str, window: OptionalWindow | None = None, address: str | None = None
    ) -> ImportOut:
        """Import an .ics file's events in the window as user events; re-importing is safe.

        Events are matched by UID: new ones are created, changed ones updated (SEQUENCE
        bumped), identical ones left alone, and occurrences of the file's recurring events
        that it no longer yields in the window removed. Almanac's own blocks (our UIDs) are
        skipped. An invitation the user declined (by one of their `addresses`, or `address`,
        already in `mail_address` form) is stored as free time.
        """
        bounds = _import_window(window or OptionalWindow())
        owner = self.addresses | ({address} if address else set())
        # Parsing and expansion are CPU-bound: in another process, so /health stays quick.
        parsed = await parse_ics_off_loop(
            data, window=bounds, zone=self.zone, limits=self.ics_limits, owner=owner
        )
        theirs = [e for e in parsed.events if e.almanac_id is None]
        skipped = parsed.skipped + len(parsed.events) - len(theirs)
        existing = await self.repo.by_uids([e.uid for e in theirs])
        created = updated = unchanged = 0
        # In UID order: two imports of the same events in other orders each waited on a
        # row the other had just written, and Postgres failed one (a deadlock, a 500).
        for event in sorted(theirs, key=lambda e: e.uid):
            values = {
                "uid": event.uid,
                "title": event.title,
                "description": event.description,
                "start_at": event.start,
                "end_at": event.end,
                "all_day": event.all_day,
                "busy": event.busy,
                "almanac_id": None,
                "metadata": {**zone_metadata(event.start, event.end), "source": "import"},
            }
            row = existing.get(event.uid)
            if row is None:
                # None: a concurrent import stored it first, which leaves the same result.
                if await self.repo.insert_if_absent(values) is not None:
                    created += 1
                else:
                    unchanged += 1
            elif row.almanac_id is not None:
                skipped += 1  # never let an import rewrite a block
            elif _same(entry_to_event(row), event):
                unchanged += 1
            else:
                await self.repo.update_content(row.id, values)
                updated += 1
        # Occurrences of the file's series that it no longer has (an EXDATE added, the
        # series ended sooner): the meeting was cancelled, it must not stay busy.
        stale = await self.repo.stale_occurrences(
            parsed.series, bounds[0], bounds[1], [e.uid for e in theirs]
        )
        removed = await self.repo.delete_ids(stale)
        return ImportOut(
            created=created,
            updated=updated,
            removed=removed,
            unchanged=unchanged,
            skipped=skipped,
            window_start=bounds[0],
            window_end=bounds[1],
            notes=parsed.notes,
        )

    async def feed(self, query: OptionalWindow) -> bytes:
        """The built-in calendar as one VCALENDAR (default: from 30 days ago on)."""
        start = query.start or datetime.now(UTC) - FEED_PAST
        entries = await self.repo.in_window(start, query.end)
        from almanac.calendars.ics import render_calendar  # icalendar: on first use

        # Thousands of entries take seconds to render: in a thread, as every request (and
        # /health) waited for the whole of it on the event loop.
        return await asyncio.to_thread(render_calendar, entries)
