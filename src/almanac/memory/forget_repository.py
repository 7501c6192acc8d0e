"""SQL that keeps a forget final: whether Zep holds anything Almanac sent of a client or
still has a deletion of a user's data to do, and facts derived from many subjects' data (the
data locks a forget takes are `external.repository.DataLocks`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, exists, literal_column, or_, select

from almanac.jobs import repository as jobs_repository
from almanac.memory.external.forget import TASK as ZEP_FORGET
from almanac.memory.external.repository import DataLocks
from almanac.models import Event, Fact
from almanac.models.memory import FACT_OWNER_SQL, owner_client


class ForgetRepository(DataLocks):
    """Events and facts as forgetting a client, and what could bring it back, see them
    (with the data locks a forget takes: the owner's first, then clients')."""

    async def clients_sent(self, event_ids: Sequence[int], fact_ids: Sequence[int]) -> list[int]:
        """The clients whose Zep user was sent one of these memories or facts (a person's
        memory tagged with a client, or about one, went there, not to the owner's:
        `SentMarks.client_of_event`)."""
        sent = [
            select(
                Event.client_id,
                Event.metadata_["subject_type"].astext,
                Event.metadata_["subject_id"].astext,
            ).where(Event.id.in_(list(event_ids)), Event.zep_session_id.is_not(None)),
            select(Fact.client_id, Fact.subject_type, Fact.subject_id).where(
                Fact.id.in_(list(fact_ids)), Fact.zep_fact_id.is_not(None)
            ),
        ]
        ids = {owner_client(*row) for stmt in sent for row in await self.session.execute(stmt)}
        return sorted(i for i in ids if i is not None)

    async def zep_deletion_pending(self, user: str) -> bool:
        """Whether a queued (or running, or retried) deletion in Zep covers data of this Zep
        user: until it has run, Zep still holds facts it extracted from what was deleted."""
        return await jobs_repository.pending_touching(self.session, ZEP_FORGET, user)

    async def in_zep(self, client_id: int) -> bool:
        """Whether a memory or fact of this client was sent to Zep (what Zep's facts about
        it come from); none once the client is forgotten."""
        about = str(client_id)
        event_about = and_(
            Event.client_id.is_(None),
            Event.metadata_["subject_type"].astext == "client",
            Event.metadata_["subject_id"].astext == about,
        )
        sent = or_(
            exists().where(
                or_(Event.client_id == client_id, event_about), Event.zep_session_id.is_not(None)
            ),
            # A fact's owner as its slot reads it: its client, else the client it is about.
            exists().where(literal_column(FACT_OWNER_SQL) == about, Fact.zep_fact_id.is_not(None)),
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
