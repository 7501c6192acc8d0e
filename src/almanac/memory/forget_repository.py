"""SQL that keeps a forget final: the client lock writes of its data take, whether Zep holds
anything Almanac sent of a client, and facts derived from many subjects' data."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, exists, or_, select, text

from almanac.db.repository import Repository
from almanac.models import Event, Fact


class ForgetRepository(Repository):
    """Events and facts as forgetting a client, and what could bring it back, see them."""

    async def lock_client(self, client_id: int) -> None:
        """Serialise forgetting a client with a write that would bring its data back (an
        import of what Zep extracted from it): whichever commits second sees the other.
        Keyed by the id itself (in its own key space, like the fact slots' locks), not a
        hash of it: a hashed key shared with another client, or another kind of lock,
        would hold a forget behind work on someone else's data."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('client-data'), :id)"), {"id": client_id}
        )

    async def in_zep(self, client_id: int) -> bool:
        """Whether a memory or fact of this client was sent to Zep (what Zep's facts about
        it come from); none once the client is forgotten."""
        sent = or_(
            exists().where(Event.client_id == client_id, Event.zep_session_id.is_not(None)),
            exists().where(Fact.client_id == client_id, Fact.zep_fact_id.is_not(None)),
        )
        return bool(await self.session.scalar(select(sent)))

    async def fact_ids_about(
        self, subject_type: str, subject_ids: Sequence[str], fact_type: str, source: str
    ) -> list[int]:
        """Every version of these subjects' facts of one type written by `source` (its
        `metadata.source`), e.g. the workflows' patterns the observer computed."""
        if not subject_ids:
            return []
        stmt = select(Fact.id).where(
            Fact.subject_type == subject_type,
            Fact.subject_id.in_(list(subject_ids)),
            Fact.fact_type == fact_type,
            Fact.metadata_["source"].astext == source,
        )
        return sorted(int(i) for i in await self.session.scalars(stmt))

    async def delete_facts(self, fact_ids: Sequence[int]) -> int:
        """Delete facts by id (embeddings cascade; links to them become NULL)."""
        if not fact_ids:
            return 0
        stmt = delete(Fact).where(Fact.id.in_(list(fact_ids))).returning(Fact.id)
        return len((await self.session.execute(stmt)).all())
