"""SQL for events and facts (what forgetting adds: `forget_repository`; documents: their own)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from almanac.db.portable import PortableRows
from almanac.db.repository import equal_to
from almanac.memory.vector_rows import VectorRows
from almanac.models import Event, EventEmbedding, Fact, FactEmbedding
from almanac.models.memory import FACT_OWNER_SQL


class EventRepository(VectorRows[Event], PortableRows):
    """Events: the memory log."""

    portable = (Event,)
    rows, vectors, key, term_kind = Event, EventEmbedding, "event_id", "event"

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """Insert rows; a row whose idempotency key exists is skipped (None at its place)."""
        if not rows:
            return []
        table = cast(Table, Event.__table__)
        # One cached statement run as executemany: SQLAlchemy batches it into multi-row
        # VALUES ("insertmanyvalues") without compiling a new statement per batch size.
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
            .returning(table.c.id, table.c.idempotency_key)
        )
        result = await self.session.execute(stmt, list(rows))
        inserted = result.all()
        # RETURNING order is not guaranteed to follow VALUES order: map back by key or position.
        by_key = {key: id_ for id_, key in inserted if key is not None}
        unkeyed = iter(sorted(id_ for id_, key in inserted if key is None))
        ids: list[int | None] = []
        for row in rows:
            key = row.get("idempotency_key")
            ids.append(by_key.get(key) if key is not None else next(unkeyed))
        return ids

    async def lock_keys(self, keys: Sequence[str]) -> None:
        """Lock these idempotency keys (in 64 buckets) until the transaction ends, in one
        order, before inserting them: two batches sharing keys in different orders waited
        on each other's inserts, and with each insert's lock on the search statistics in
        the cycle, one failed (40P01, a 500)."""
        for bucket in sorted({zlib.crc32(key.encode()) % 64 for key in keys}):
            await self.lock(f"event-key:{bucket}")

    async def ids_by_keys(self, keys: Sequence[str]) -> dict[str, Event]:
        """Existing events for idempotency keys."""
        if not keys:
            return {}
        result = await self.session.scalars(select(Event).where(Event.idempotency_key.in_(keys)))
        return {e.idempotency_key: e for e in result if e.idempotency_key is not None}

    async def get(self, event_id: int, *, for_update: bool = False) -> Event | None:
        return await self.by_id(Event, event_id, lock=self.lock_of(for_update))

    async def happened_between(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, float, str, bool]]:
        """(event_type, salience, content, a client's?) of the memories that happened in
        [start, end), reflections left out (a week's review should not count its days').
        A client's memory has its `client_id`, or names a client as its subject."""
        clients = or_(
            Event.client_id.is_not(None), Event.metadata_["subject_type"].astext == "client"
        )
        rows = await self.session.execute(
            select(Event.event_type, Event.salience_score, Event.content, clients).where(
                Event.occurred_at >= start,
                Event.occurred_at < end,
                Event.event_type != "reflection",
            )
        )
        return [(str(t), float(s), str(c), bool(o)) for t, s, c, o in rows]

    async def link_fact(self, event_id: int, fact_id: int) -> None:
        await self.session.execute(
            update(Event).where(Event.id == event_id).values(promoted_to_fact_id=fact_id)
        )

    async def set_zep_session(self, event_id: int, thread_id: str) -> None:
        await self.session.execute(
            update(Event).where(Event.id == event_id).values(zep_session_id=thread_id)
        )

    async def delete_for_subject(
        self, subject_type: str, subject_id: str, client_id: int | None = None
    ) -> list[Event]:
        """Events about a subject: tagged in metadata, or (a client) by `client_id`."""
        where = _events_about(subject_type, subject_id, client_id)
        stmt = delete(Event).where(where).returning(Event)
        return list((await self.session.scalars(stmt)).all())

    async def ids_for_subject(
        self, subject_type: str, subject_id: str, client_id: int | None = None
    ) -> list[int]:
        where = _events_about(subject_type, subject_id, client_id)
        return list((await self.session.scalars(select(Event.id).where(where))).all())

    async def contents(self, event_ids: Sequence[int]) -> list[str]:
        if not event_ids:
            return []
        stmt = select(Event.content).where(Event.id.in_(event_ids))
        return list((await self.session.scalars(stmt)).all())

    async def iter_all(self, batch: int, after_id: int) -> list[Event]:
        stmt = select(Event).where(Event.id > after_id).order_by(Event.id).limit(batch)
        return list((await self.session.scalars(stmt)).all())

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Event)) or 0)

    async def count_old(self, cutoff: datetime) -> tuple[int, int]:
        """Events older than `cutoff`: (not promoted to a fact, promoted)."""
        counts = []
        for promoted in (~_promoted(), _promoted()):
            stmt = select(func.count()).select_from(Event).where(_old(cutoff), promoted)
            counts.append(int(await self.session.scalar(stmt) or 0))
        return counts[0], counts[1]

    async def lock_old(self, cutoff: datetime, after_id: int, limit: int) -> list[Event]:
        """The next `limit` events older than `cutoff` and never promoted, locked."""
        stmt = (
            select(Event)
            .where(_old(cutoff), ~_promoted(), Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
            # Rows being promoted right now are skipped, and these cannot change between
            # the caller's export and its delete.
            .with_for_update(of=Event, skip_locked=True)
        )
        return list((await self.session.scalars(stmt)).all())

    async def delete_ids(self, event_ids: Sequence[int]) -> None:
        await self.session.execute(delete(Event).where(Event.id.in_(event_ids)))


def _old(cutoff: datetime) -> ColumnElement[bool]:
    # Both clocks: an import of old memories (old occurred_at) gets the full period too.
    return and_(Event.created_at < cutoff, Event.occurred_at < cutoff)


def _promoted() -> ColumnElement[bool]:
    # A fact may name its source event without the event pointing back (Observer facts).
    return (Event.promoted_to_fact_id.is_not(None)) | exists().where(
        Fact.source_event_id == Event.id
    )


def _events_about(subject_type: str, subject_id: str, client_id: int | None) -> Any:
    about = and_(
        Event.metadata_["subject_type"].astext == subject_type,
        Event.metadata_["subject_id"].astext == subject_id,
    )
    return or_(about, Event.client_id == client_id) if client_id is not None else about


def _facts_about(subject_type: str, subject_id: str, client_id: int | None) -> Any:
    about = and_(Fact.subject_type == subject_type, Fact.subject_id == subject_id)
    return or_(about, Fact.client_id == client_id) if client_id is not None else about


def _valid_at(as_of: datetime) -> Any:
    return and_(Fact.valid_from <= as_of, or_(Fact.valid_to.is_(None), Fact.valid_to > as_of))


# A fact slot: subject, type, category and whose it is (`fact_owner`). A client's fact
# never supersedes another client's, nor the user's own, which every client's plans read.
Slot = tuple[str, str, str, str | None, int | None]


def fact_owner(subject_type: str, subject_id: str, client_id: int | None) -> str:
    """Whose a fact is, as `FACT_OWNER_SQL` computes it: its client's id; without one, the
    client it is about (`client:7` is client 7's), else "" (the user's own)."""
    if client_id is not None:
        return str(client_id)
    return subject_id if subject_type == "client" else ""


def _slot_key(
    subject_type: str, subject_id: str, fact_type: str, category: str | None, client_id: int | None
) -> str:
    """The key of a fact slot's advisory lock."""
    whose = fact_owner(subject_type, subject_id, client_id)
    return f"{subject_type}\x1f{subject_id}\x1f{fact_type}\x1f{category or ''}\x1f{whose}"


class FactRepository(VectorRows[Fact], PortableRows):
    """Facts with bi-temporal validity."""

    portable = (Fact,)
    rows, vectors, key, term_kind = Fact, FactEmbedding, "fact_id", "fact"

    async def insert(self, values: dict[str, Any]) -> Fact:
        return await self.add(Fact(**values))

    async def get(self, fact_id: int, *, for_update: bool = False) -> Fact | None:
        return await self.by_id(Fact, fact_id, lock=self.lock_of(for_update))

    async def lock_slots(self, slots: Sequence[Slot]) -> None:
        """Lock these slots (subject type, subject id, fact type, category, client) until the
        transaction ends, in one sorted order: a transaction that writes several slots
        locks them all first, so two such transactions cannot deadlock (40P01)."""
        for key in sorted({_slot_key(*slot) for slot in slots}):
            await self._lock_slot(key)

    async def _lock_slot(self, key: str) -> None:
        # Re-entrant within a transaction: `current_in_slot` takes it again, harmlessly.
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('fact'), hashtext(:key))"), {"key": key}
        )

    async def current_in_slot(
        self,
        subject_type: str,
        subject_id: str,
        fact_type: str,
        category: str | None,
        client_id: int | None,
        *,
        history: bool = False,
    ) -> list[Fact]:
        """Current facts on the same subject and type (and category, which may be null) of
        the same owner (`fact_owner`), latest first, with the slot locked until the
        transaction ends; with `history`, every version (closed ones too)."""
        # FOR UPDATE locks only rows that exist: two writers of an empty slot (or of a new
        # statement beside others) would both insert. The advisory lock serialises them.
        await self._lock_slot(_slot_key(subject_type, subject_id, fact_type, category, client_id))
        stmt = (
            select(Fact)
            .where(
                Fact.subject_type == subject_type,
                Fact.subject_id == subject_id,
                Fact.fact_type == fact_type,
                Fact.category.is_(None) if category is None else Fact.category == category,
                literal_column(FACT_OWNER_SQL) == fact_owner(subject_type, subject_id, client_id),
            )
            .order_by(Fact.valid_from.desc(), Fact.id.desc())
            # Rows read before the lock may be stale in the session; these are read under it.
            .execution_options(populate_existing=True)
        )
        # The slot lock already orders every write of these rows' validity; the old versions
        # are not row-locked too (a Zep send holding one would only make this wait).
        if not history:
            stmt = stmt.where(Fact.valid_to.is_(None)).with_for_update()
        return list((await self.session.scalars(stmt)).all())

    async def zep_ids(self, fact_ids: Sequence[int]) -> list[str]:
        """The Zep graph episodes these facts (every version) were written to."""
        if not fact_ids:
            return []
        stmt = select(Fact.zep_fact_id).where(Fact.id.in_(fact_ids), Fact.zep_fact_id.is_not(None))
        return [str(z) for z in (await self.session.scalars(stmt)).all()]

    async def set_zep_fact(self, fact_id: int, zep_id: str) -> None:
        await self.session.execute(
            update(Fact).where(Fact.id == fact_id).values(zep_fact_id=zep_id)
        )

    async def close(self, fact_id: int, valid_to: datetime) -> None:
        await self.session.execute(update(Fact).where(Fact.id == fact_id).values(valid_to=valid_to))

    async def set_valid_from(self, fact_id: int, valid_from: datetime) -> None:
        stmt = update(Fact).where(Fact.id == fact_id).values(valid_from=valid_from)
        await self.session.execute(stmt)

    async def hand_on(self, old_id: int, new_id: int) -> None:
        """The successors of fact `old_id` supersede fact `new_id` instead (inserted
        between them)."""
        stmt = update(Fact).where(Fact.supersedes_id == old_id, Fact.id != new_id)
        await self.session.execute(stmt.values(supersedes_id=new_id))

    async def find(
        self,
        *,
        subject_type: str | None,
        subject_id: str | None,
        fact_type: str | None,
        as_of: datetime | None,
        include_history: bool,
        limit: int,
        for_client: int | None = None,
    ) -> list[Fact]:
        stmt = select(Fact)
        if for_client is not None:
            # The user's own facts and this client's, never another client's: whose a
            # fact is its `client_id` says, else the client it is about (as in its slot).
            other = and_(Fact.subject_type == "client", Fact.subject_id != str(for_client))
            stmt = stmt.where(
                or_(Fact.client_id == for_client, and_(Fact.client_id.is_(None), ~other))
            )
        stmt = stmt.where(
            *equal_to(Fact, subject_type=subject_type, subject_id=subject_id, fact_type=fact_type)
        )
        if not include_history:
            # Current is true now: a successor dated later (a rate from next January) has
            # not replaced its predecessor yet, so the predecessor is the one listed.
            stmt = stmt.where(_valid_at(as_of or datetime.now(UTC)))
        stmt = stmt.order_by(Fact.subject_type, Fact.subject_id, Fact.valid_from.desc(), Fact.id)
        return list((await self.session.scalars(stmt.limit(limit))).all())

    async def delete_for_subject(
        self, subject_type: str, subject_id: str, client_id: int | None = None
    ) -> list[int]:
        """Every version of the subject's facts (and, for a client, facts with its id)."""
        where = _facts_about(subject_type, subject_id, client_id)
        stmt = delete(Fact).where(where).returning(Fact.id)
        return [int(r[0]) for r in (await self.session.execute(stmt)).all()]

    async def ids_for_subject(
        self, subject_type: str, subject_id: str, client_id: int | None = None
    ) -> list[int]:
        where = _facts_about(subject_type, subject_id, client_id)
        return list((await self.session.scalars(select(Fact.id).where(where))).all())

    async def subject_nodes(self, fact_ids: Sequence[int]) -> list[str]:
        """The graph nodes these facts hang off (`<subject_type>:<subject_id>`, as the
        graph's trigger names them)."""
        if not fact_ids:
            return []
        rows = await self.session.execute(
            text(
                "SELECT DISTINCT left(subject_type || ':' || subject_id, 255) FROM facts "
                "WHERE id = ANY(CAST(:ids AS bigint[]))"
            ),
            {"ids": list(fact_ids)},
        )
        return sorted(rows.scalars())
