"""The built-in calendar: events in Postgres (`calendar_entries`), served as an .ics feed.

It is the default provider, so scheduling works with no account anywhere. It reads and writes
in the caller's session and never commits: the request (or job) that applies a plan commits
the blocks together with everything else it did.

Postgres keeps instants, not zones; the IANA zone an event was written in is kept in the
row's metadata (`start_tz`/`end_tz`) so events read back in the zone they were written in,
which `plan_changes` compares, keeping a repeated `apply` a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.calendars.base import (
    ApplyResult,
    CalendarEvent,
    CalendarProvider,
    CalendarUnavailable,
    EventSpec,
    Scope,
    event_span,
    plan_changes,
    require_window,
    zone_name,
)
from almanac.calendars.repository import CalendarEntryRepository
from almanac.errors import ValidationFailed
from almanac.models import CalendarEntry

# Column limits of `calendar_entries`; checked up front so bad input is a 422, not a 500.
MAX_TITLE = 500
MAX_UID = 255


def zone_metadata(start: datetime, end: datetime) -> dict[str, str]:
    """The metadata keys recording the zones of `start` and `end` (omitted for UTC)."""
    meta: dict[str, str] = {}
    for key, value in (("start_tz", start), ("end_tz", end)):
        name = zone_name(value)
        if name != "UTC":
            meta[key] = name
    return meta


def _in_zone(value: datetime, name: object) -> datetime:
    """`value` expressed in the zone called `name` (UTC when missing or unknown)."""
    if isinstance(name, str) and name:
        try:
            return value.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone removed from tzdata since: the instant is still right in UTC
    return value.astimezone(UTC)


def entry_to_event(entry: CalendarEntry) -> CalendarEvent:
    """The provider-neutral view of a stored entry, in the zones it was written in."""
    meta = entry.metadata_ or {}
    start, end = event_span(
        _in_zone(entry.start_at, meta.get("start_tz")), _in_zone(entry.end_at, meta.get("end_tz"))
    )
    return CalendarEvent(
        uid=entry.uid,
        title=entry.title,
        start=start,
        end=end,
        description=entry.description or "",
        almanac_id=entry.almanac_id,
        # Changes whenever the entry does (every write bumps SEQUENCE).
        etag=f"{entry.id}-{entry.sequence}",
        all_day=entry.all_day,
        busy=entry.busy,
    )


def check_text(value: str, field: str, limit: int | None = None) -> None:
    """Raise ValidationFailed naming `field` if Postgres could not store `value`."""
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if limit is not None and len(value) > limit:
        raise ValidationFailed(f"{field} must be at most {limit} characters", field=field)


def block_values(spec: EventSpec) -> dict[str, Any]:
    """The row Almanac keeps for `spec` (content columns plus the UID)."""
    check_text(spec.title, "title", MAX_TITLE)
    check_text(spec.description, "description")
    check_text(spec.almanac_id, "almanac_id")
    check_text(spec.uid, "almanac_id", MAX_UID)
    return {
        "uid": spec.uid,
        "title": spec.title,
        "description": spec.description or "",
        "start_at": spec.start,
        "end_at": spec.end,
        "all_day": False,
        "busy": True,
        "almanac_id": spec.almanac_id,
        "metadata": zone_metadata(spec.start, spec.end),
    }


class BuiltinCalendar(CalendarProvider):
    """The calendar kept in Almanac's own database; writes join the caller's transaction."""

    name = "builtin"

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = CalendarEntryRepository(session)

    async def events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """All entries (Almanac's and the user's) overlapping [start, end), sorted by start."""
        require_window(start, end)
        entries = await self.repo.in_window(start, end)
        return sorted((entry_to_event(e) for e in entries), key=lambda e: (e.start, e.uid))

    async def apply(
        self,
        desired: Sequence[EventSpec],
        window_start: datetime,
        window_end: datetime,
        only: Scope = None,
    ) -> ApplyResult:
        """Diff and write Almanac's blocks in the window; the user's entries are left alone."""
        window = (window_start, window_end)
        require_window(window_start, window_end, "window_")
        plan_changes([], desired, window)  # validate the specs before touching the database
        rows = {spec.almanac_id: block_values(spec) for spec in desired}
        await self.repo.lock_blocks()
        entries = await self.repo.in_window(window_start, window_end, almanac_only=True)
        ids = {e.uid: e.id for e in entries}
        plan = plan_changes([entry_to_event(e) for e in entries], desired, window, only)
        for spec in plan.create:
            await self.repo.upsert_block(rows[spec.almanac_id])
        for event, spec in plan.update:
            await self.repo.update_content(ids[event.uid], rows[spec.almanac_id])
        await self.repo.delete_ids([ids[e.uid] for e in plan.delete])
        return plan.applied()

    async def check(self) -> None:
        """Raise CalendarUnavailable unless the calendar table can be read."""
        try:
            await self.repo.probe()
        except (DBAPIError, OSError) as e:
            raise CalendarUnavailable(f"built-in calendar unavailable: {e}") from e
