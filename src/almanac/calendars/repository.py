"""SQL for `calendar_entries`, the built-in calendar. Nothing else writes SQL for this table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from almanac.db.limits import wait_for_lock
from almanac.db.portable import PortableRows
from almanac.db.repository import Repository
from almanac.models import CalendarEntry

# Columns `apply` and imports may set; `id`, timestamps and `sequence` are managed here.
CONTENT_COLUMNS = (
    "title",
    "description",
    "start_at",
    "end_at",
    "all_day",
    "busy",
    "almanac_id",
    "metadata",
)
# Rows may have been changed by Core statements since the session loaded them (upserts,
# sequence bumps): reads always refresh the objects in the identity map.
_FRESH = {"populate_existing": True}
# One key for every writer of Almanac's blocks (see `lock_blocks`).
_APPLY_LOCK_KEY = "almanac.calendar_entries.apply"


def _overlapping(start: datetime, end: datetime) -> Any:
    """Rows meeting [start, end); zero-length rows count at their start (as `overlaps` does)."""
    return (CalendarEntry.start_at < end) & or_(
        CalendarEntry.end_at > start, CalendarEntry.start_at >= start
    )


class CalendarEntryRepository(Repository, PortableRows):
    """The built-in calendar's events: the user's and Almanac's blocks (`almanac_id` set)."""

    portable = (CalendarEntry,)

    async def in_window(
        self, start: datetime, end: datetime | None, *, almanac_only: bool = False
    ) -> list[CalendarEntry]:
        """Entries overlapping [start, end) (open-ended when `end` is None), by start then uid."""
        if end is None:
            stmt = select(CalendarEntry).where(
                or_(CalendarEntry.end_at > start, CalendarEntry.start_at >= start)
            )
        else:
            stmt = select(CalendarEntry).where(_overlapping(start, end))
        if almanac_only:
            stmt = stmt.where(CalendarEntry.almanac_id.is_not(None))
        stmt = stmt.order_by(CalendarEntry.start_at, CalendarEntry.uid)
        return list((await self.session.scalars(stmt, execution_options=_FRESH)).all())

    async def get(self, entry_id: int) -> CalendarEntry | None:
        """One entry by id."""
        stmt = select(CalendarEntry).where(CalendarEntry.id == entry_id)
        return (await self.session.scalars(stmt, execution_options=_FRESH)).one_or_none()

    async def by_uids(self, uids: Sequence[str]) -> dict[str, CalendarEntry]:
        """Existing entries for these UIDs."""
        if not uids:
            return {}
        stmt = select(CalendarEntry).where(CalendarEntry.uid.in_(list(uids)))
        return {e.uid: e for e in await self.session.scalars(stmt, execution_options=_FRESH)}

    async def lock_blocks(self) -> None:
        """Serialize writers of Almanac's blocks until the transaction ends.

        Two concurrent `apply`s would each diff against the same old state and both insert
        or delete; a transaction-level advisory lock makes the second wait and diff again.
        The scheduler's writers take it before they read (whatever the provider), and so
        does forgetting a client before it deletes plans and blocks. Take it before any row
        lock; taken again in the same transaction it is already held. A request waits at
        most `scheduler.write_lock_timeout_seconds`, then answers 503 (db/limits.py).
        """
        await wait_for_lock(
            self.session,
            "SELECT pg_advisory_xact_lock(hashtext(:key))",
            {"key": _APPLY_LOCK_KEY},
            "the schedule",
        )

    async def insert_if_absent(self, values: dict[str, Any]) -> CalendarEntry | None:
        """Insert one entry; None when its UID already exists (the caller reads that one)."""
        return await self.insert_new(CalendarEntry, values, "uid")

    async def upsert_block(self, values: dict[str, Any]) -> None:
        """Insert an Almanac block, or overwrite the row that already holds its UID.

        A leftover block of the same id outside the window (or an older copy) is taken over
        rather than duplicated; its SEQUENCE goes up so subscribers replace their copy.
        """
        table = cast(Table, CalendarEntry.__table__)
        stmt = insert(table).values(**values)
        changed = {c: stmt.excluded[c] for c in CONTENT_COLUMNS if c in values}
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.uid],
            set_={**changed, "sequence": table.c.sequence + 1, "updated_at": func.now()},
        )
        await self.session.execute(stmt)

    async def update_content(self, entry_id: int, values: dict[str, Any]) -> None:
        """Change an entry's content and bump its SEQUENCE (RFC 5545: every revision)."""
        changed = {
            ("metadata_" if key == "metadata" else key): value
            for key, value in values.items()
            if key in CONTENT_COLUMNS
        }
        stmt = (
            update(CalendarEntry)
            .where(CalendarEntry.id == entry_id)
            .values(**changed, sequence=CalendarEntry.sequence + 1, updated_at=func.now())
            .execution_options(synchronize_session="fetch")
        )
        await self.session.execute(stmt)

    async def delete_ids(self, ids: Sequence[int]) -> int:
        """Delete entries by id; returns how many went."""
        if not ids:
            return 0
        stmt = (
            delete(CalendarEntry)
            .where(CalendarEntry.id.in_(list(ids)))
            .returning(CalendarEntry.id)
            .execution_options(synchronize_session="fetch")
        )
        return len((await self.session.execute(stmt)).all())

    async def stale_occurrences(
        self, series: Sequence[str], start: datetime, end: datetime, keep: Sequence[str]
    ) -> list[int]:
        """Ids of imported user events of these series (UIDs `<series>#...`) meeting
        [start, end) whose UIDs are not in `keep`."""
        if not series:
            return []
        prefixes = [f"{uid}#" for uid in series]
        stmt = select(CalendarEntry.id).where(
            _overlapping(start, end),
            CalendarEntry.almanac_id.is_(None),
            CalendarEntry.metadata_["source"].astext == "import",
            # left() rather than LIKE: a UID may hold % or _.
            or_(*(func.left(CalendarEntry.uid, len(p)) == p for p in prefixes)),
        )
        if keep:
            stmt = stmt.where(CalendarEntry.uid.not_in(list(keep)))
        return list((await self.session.scalars(stmt)).all())

    async def delete_blocks_of_plans(self, plan_ids: Sequence[int]) -> int:
        """Almanac's blocks placed for these plans (block ids start `plan{id}-`)."""
        if not plan_ids:
            return 0
        patterns = [f"plan{int(p)}-%" for p in plan_ids]
        stmt = (
            delete(CalendarEntry)
            .where(or_(*(CalendarEntry.almanac_id.like(p) for p in patterns)))
            .returning(CalendarEntry.id)
        )
        return len((await self.session.execute(stmt)).all())

    async def probe(self) -> None:
        """A cheap read proving the table is reachable (for `check`)."""
        await self.session.execute(select(CalendarEntry.id).limit(1))
