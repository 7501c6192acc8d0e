"""SQL that keeps Zep and Postgres agreeing on what was sent: the data locks every write
or deletion of a Zep user's data takes, and the sent marks a deletion in Zep clears."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update

from almanac.db.limits import wait_for_lock
from almanac.db.repository import Repository
from almanac.models import Event, Fact
from almanac.models.memory import owner_client


class DataLocks(Repository):
    """The owner's lock and the clients' (transaction-scoped advisory locks).

    Order, so that no two lockers wait on each other: whoever takes more than one takes
    the owner's first (which makes them one at a time), then the clients'; whoever takes
    one alone (a send, an import) takes no other while holding it. A request waits for
    one at most the write-lock timeout, then answers 503 (`db.limits.wait_for_lock`):
    a send or a deletion in Zep holds its lock through its call to Zep.
    """

    async def lock_client(self, client_id: int) -> None:
        """Serialise writes of a client's data with forgetting or deleting it there.
        Keyed by the id itself (in its own key space, like the fact slots' locks), not a
        hash of it: a hashed key shared with another client, or another kind of lock,
        would hold a forget behind work on someone else's data."""
        await wait_for_lock(
            self.session,
            "SELECT pg_advisory_xact_lock(hashtext('client-data'), :id)",
            {"id": client_id},
            f"the data of client {client_id}",
        )

    async def lock_owner(self) -> None:
        """The owner's data (memories without a client went to the owner's Zep user);
        taken first by everyone who takes more than one lock."""
        await wait_for_lock(
            self.session,
            "SELECT pg_advisory_xact_lock(hashtext('owner-data'), 0)",
            {},
            "the owner's data",
        )

    async def lock_memory_writes(self, *, shared: bool) -> None:
        """Memory writes (shared: any number at once) against forgetting (exclusive).

        A forget deletes memories and facts whose words and statistics rows a remember
        under way updates too, in another order (the facts it deletes null the links of
        memories remembered meanwhile): the two deadlocked. A remember takes this shared
        before it writes, a forget exclusive once it holds the data locks above, so a
        forget waits for the remembers under way and the next ones wait for it. Nobody
        who holds it waits for the data locks."""
        how = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        await wait_for_lock(
            self.session,
            f"SELECT {how}(hashtext('memory-writes'), 0)",
            {},
            "the memories (a forget is under way)" if shared else "the memories",
        )

    async def lock_one(self, client_id: int | None) -> None:
        """The lock of one client's data (None: the owner's), taken alone."""
        if client_id is None:
            await self.lock_owner()
        else:
            await self.lock_client(client_id)

    async def lock_owner_then(self, client_id: int | None) -> None:
        """The owner's lock, then the client's (None: none): what forgetting a subject or
        deleting one memory or fact takes first."""
        await self.lock_owner()
        if client_id is not None:
            await self.lock_client(client_id)

    async def lock_all(self, client_ids: Iterable[int | None]) -> None:
        """The locks of several clients' data (None: the owner's): one alone as
        `lock_one`, more the owner's first, then the clients' ascending."""
        wanted = set(client_ids)
        if len(wanted) == 1:
            await self.lock_one(wanted.pop())
            return
        if wanted:
            await self.lock_owner()
        for client_id in sorted(c for c in wanted if c is not None):
            await self.lock_client(client_id)


class SentMarks(DataLocks):
    """The marks saying a memory (`zep_session_id`) or a fact (`zep_fact_id`) is in Zep."""

    async def unmark_threads(self, threads: Sequence[str], users: Sequence[str]) -> list[int]:
        """Memories marked as sent into these (deleted) threads or into any thread of
        these (deleted) users: unmarked, ids returned."""
        found: list[ColumnElement[bool]] = []
        if threads:
            found.append(Event.zep_session_id.in_(list(threads)))
        found += [Event.zep_session_id.startswith(f"{user}.", autoescape=True) for user in users]
        if not found:
            return []
        stmt = update(Event).where(or_(*found)).values(zep_session_id=None).returning(Event.id)
        return sorted(int(i) for i in (await self.session.scalars(stmt)).all())

    async def unmark_facts(self, client_ids: Sequence[int | None]) -> list[int]:
        """Facts marked as written into these clients' (None: the owner's) deleted Zep
        graphs, whose each is as `client_of_fact` says: unmarked, ids returned."""
        wanted = set(client_ids)
        named = [c for c in wanted if c is not None]
        candidates = [Fact.client_id.in_(named), Fact.client_id.is_(None)]
        rows = await self.session.execute(
            select(Fact.id, Fact.client_id, Fact.subject_type, Fact.subject_id).where(
                or_(*candidates), Fact.zep_fact_id.is_not(None)
            )
        )
        ids = [
            r.id for r in rows if owner_client(r.client_id, r.subject_type, r.subject_id) in wanted
        ]
        if not ids:
            return []
        stmt = update(Fact).where(Fact.id.in_(ids)).values(zep_fact_id=None).returning(Fact.id)
        return sorted(int(i) for i in (await self.session.scalars(stmt)).all())

    async def live_fact_episodes(self, episodes: Sequence[str], now: datetime) -> set[str]:
        """Those of these Zep episodes that are the copy of a fact still valid or ahead
        (not ended by `now`)."""
        if not episodes:
            return set()
        stmt = select(Fact.zep_fact_id).where(
            Fact.zep_fact_id.in_(list(episodes)),
            or_(Fact.valid_to.is_(None), Fact.valid_to > now),
        )
        return {str(z) for z in (await self.session.scalars(stmt)).all()}

    async def client_of_event(self, event_id: int) -> tuple[bool, int | None]:
        """(Whether the memory exists, whose it is: its client, else the client its
        metadata names as subject, else None, the owner's): read unlocked, to choose the
        data lock to take before the row's lock, and the Zep user it goes to. As recall
        reads it: a memory about client 7 sent to the owner's user came back, as the
        facts Zep learnt there, as the owner's, which every client reads."""
        row = (
            await self.session.execute(
                select(
                    Event.client_id,
                    Event.metadata_["subject_type"].astext,
                    Event.metadata_["subject_id"].astext,
                ).where(Event.id == event_id)
            )
        ).first()
        return (False, None) if row is None else (True, owner_client(*row))

    async def client_of_fact(self, fact_id: int) -> tuple[bool, int | None]:
        """(Whether the fact exists, whose it is: its client, else the client it is
        about), as `client_of_event`."""
        row = (
            await self.session.execute(
                select(Fact.client_id, Fact.subject_type, Fact.subject_id).where(Fact.id == fact_id)
            )
        ).first()
        return (False, None) if row is None else (True, owner_client(*row))
