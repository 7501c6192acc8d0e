"""Facts: writing with supersession, bi-temporal reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.errors import Conflict, NotFound, ValidationFailed
from almanac.jobs.queue import enqueue_many
from almanac.jobs.repository import delete_queued_naming
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.external import forget as external_forget
from almanac.memory.external.repository import SentMarks
from almanac.memory.invalidation import Invalidator
from almanac.memory.repository import FactRepository
from almanac.memory.schemas import FactIn, FactOut, FactsQuery, FactWriteOut, SupersedeIn
from almanac.models import Fact


def fact_out(fact: Fact) -> FactOut:
    """The API shape of a fact row."""
    now = datetime.now(UTC)
    current = fact.valid_from <= now and (fact.valid_to is None or fact.valid_to > now)
    return row_out(FactOut, fact, current=current)


def _start(fact: Fact) -> datetime:
    return fact.valid_from


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# What `observer.facts` marks a fact imported from Zep's graph with (`metadata.source`).
FROM_ZEP = "observer:zep"


def _observed(metadata: dict[str, Any]) -> bool:
    """Whether the Observer proposed the fact (`metadata.source` `observer:<how>`)."""
    return str(metadata.get("source", "")).startswith("observer:")


def _carried(metadata: dict[str, Any]) -> dict[str, Any]:
    """A predecessor's metadata for its successor: a successor stated here does not come
    from Zep, so it is written to Zep's graph."""
    if metadata.get("source") == FROM_ZEP:
        return {k: v for k, v in metadata.items() if k != "source"}
    return metadata


class FactService:
    """Durable facts. A new fact in an occupied slot (subject, type, category, and whose: a
    client's or the user's own) supersedes."""

    def __init__(
        self,
        uow: UnitOfWork,
        embedder: Embedder,
        invalidator: Invalidator,
        *,
        to_zep: bool = False,
    ) -> None:
        self.uow = uow
        self.repo = FactRepository(uow.session)
        self.embedder = embedder
        self.invalidator = invalidator
        # With Zep configured, each new fact is queued for the user's Zep graph.
        self.to_zep = to_zep

    async def _queue_zep(self, fact_id: int, data: FactIn) -> None:
        # A fact imported from Zep's graph is there already: written back, Zep would hold
        # it twice (and extract it again).
        if self.to_zep and data.metadata.get("source") != FROM_ZEP:
            await enqueue_many(
                self.uow.session, "almanac:zep_fact", [{"fact_id": fact_id}], queue="zep"
            )

    async def _queue_zep_dates(self, facts: Sequence[Fact]) -> None:
        """Zep's copy of these facts gets their new validity (`sync.send_fact_dates`); one
        not in Zep yet gets it from its send, one imported from Zep has no copy there."""
        wanted = [{"fact_id": f.id} for f in facts if f.metadata_.get("source") != FROM_ZEP]
        if self.to_zep and wanted:
            await enqueue_many(self.uow.session, "almanac:zep_fact_dates", wanted, queue="zep")

    async def _embed(self, content: str) -> list[float]:
        return [float(x) for x in await self.embedder.embed_query(content)]

    async def lock_slots(self, facts: Sequence[FactIn]) -> None:
        """Lock the slots these facts will be written to, in one order (before writing
        several facts in one transaction)."""
        await self.repo.lock_slots(
            [(f.subject_type, f.subject_id, f.fact_type, f.category, f.client_id) for f in facts]
        )

    async def write(
        self,
        data: FactIn,
        *,
        source_event_id: int | None = None,
        wait_for_forgets: bool = False,
    ) -> FactWriteOut:
        """Add a fact; drop an exact duplicate; supersede the current one in its slot (or,
        dated before a later-dated successor, the one valid then: `_held_at`). The API's
        writes wait for a forget under way (`wait_for_forgets`), as `remember_many` does."""
        if wait_for_forgets:
            await SentMarks(self.uow.session).lock_memory_writes(shared=True)
        current = await self.repo.current_in_slot(
            data.subject_type, data.subject_id, data.fact_type, data.category, data.client_id
        )
        # "Now" once the slot is ours: a write that waited for the lock starts after the
        # one it waited for, not before it (which would be a 422 for a time never sent).
        valid_from = data.valid_from or datetime.now(UTC)
        # A fact the Observer proposes without a date (read in a memory) was learnt now,
        # not stated from now: it moves no later-dated version of itself.
        dated = data.valid_from is not None or not _observed(data.metadata)
        for existing in current:
            if _same(existing.content, data.content):
                # Stated from earlier than it holds ("150 from now" when "150 from next
                # month" is held): it holds from then, unless other versions lie between.
                if dated and valid_from < existing.valid_from:
                    moved = await self._start_earlier(existing, data, valid_from)
                    if moved is not None or data.category is None:
                        return moved or FactWriteOut(fact=fact_out(existing), duplicate=True)
                    break
                return FactWriteOut(fact=fact_out(existing), duplicate=True)
        # Without a category, facts of one type are independent statements
        # ("prefers mornings", "no calls on Friday"), so they accumulate.
        predecessor = current[0] if current and data.category is not None else None
        if predecessor is not None and valid_from < predecessor.valid_from:
            predecessor = await self._held_at(data, valid_from)
            if _same(predecessor.content, data.content):
                return FactWriteOut(fact=fact_out(predecessor), duplicate=True)
            # The version right after it says the same (a closed, later-dated one): that
            # one starts earlier, rather than a copy of it going in between.
            following = await self._following(data, predecessor) if dated else None
            if following is not None and _same(following.content, data.content):
                moved = await self._start_earlier(following, data, valid_from)
                if moved is not None:
                    return moved
        fact = await self._replace(predecessor, data, valid_from, source_event_id)
        self.invalidator.facts_changed(self.uow)
        return FactWriteOut(
            fact=fact_out(fact), superseded_id=predecessor.id if predecessor else None
        )

    async def _versions(self, data: FactIn) -> list[Fact]:
        """Every version of `data`'s slot, latest first (the slot locked already)."""
        return await self.repo.current_in_slot(
            data.subject_type,
            data.subject_id,
            data.fact_type,
            data.category,
            data.client_id,
            history=True,
        )

    async def _following(self, data: FactIn, fact: Fact) -> Fact | None:
        """The version of `data`'s slot that starts when `fact` ends."""
        if fact.valid_to is None:
            return None
        versions = await self._versions(data)
        return next((f for f in versions if f.valid_from == fact.valid_to), None)

    async def _start_earlier(
        self, fact: Fact, data: FactIn, valid_from: datetime
    ) -> FactWriteOut | None:
        """`fact` restated from `valid_from`, before its own start: it starts then, and the
        version valid then ends then, so the slot keeps one fact at any instant and one
        row per statement. None when another version starts in between (then the caller
        puts the statement between them). Without a category only `fact`'s own
        predecessor (the one it superseded, ending at its start) is in its way."""
        versions = await self._versions(data)
        if data.category is None:
            held = next(
                (
                    f
                    for f in versions
                    if f.id == fact.supersedes_id and f.valid_to == fact.valid_from
                ),
                None,
            )
            if held is not None and held.valid_from >= valid_from:
                return None
        else:
            others = [f for f in versions if f.id != fact.id]
            if any(valid_from <= f.valid_from < fact.valid_from for f in others):
                return None
            held = next(
                (
                    f
                    for f in others
                    if f.valid_from < valid_from and (f.valid_to is None or f.valid_to > valid_from)
                ),
                None,
            )
        if held is not None:
            await self.repo.close(held.id, valid_from)
        await self.repo.set_valid_from(fact.id, valid_from)
        await self._queue_zep_dates([f for f in (held, fact) if f is not None])
        self.invalidator.facts_changed(self.uow)
        moved = await self.repo.get(fact.id)
        assert moved is not None  # under the slot lock
        return FactWriteOut(
            fact=fact_out(moved), duplicate=True, superseded_id=held.id if held else None
        )

    async def _held_at(self, data: FactIn, valid_from: datetime) -> Fact:
        """The fact of `data`'s slot valid at `valid_from`, which lies before the current
        fact's start: today's rate corrected after next January's was stated. The new fact
        goes between it and its successor (`_replace`). Before the slot's first fact (or
        in a gap a deletion left) there is none to correct: 422."""
        versions = await self._versions(data)
        for fact in versions:  # latest first
            if fact.valid_from <= valid_from and (
                fact.valid_to is None or valid_from < fact.valid_to
            ):
                return fact
        following = min((f for f in versions if f.valid_from > valid_from), key=_start)
        said = (
            f"valid_from is before fact {following.id}'s valid_from "
            f"({following.valid_from.isoformat()}) and no fact of its slot was valid then"
        )
        if following.valid_from == min(f.valid_from for f in versions):
            # Before the slot's first fact: say how the earlier one can be recorded.
            said += (
                f": a fact goes into its slot's history only where another was valid. To "
                f"record one before fact {following.id}, delete that fact (DELETE "
                f"/api/v1/memory/facts/{following.id}), add the earlier one with its "
                f"valid_from, then add fact {following.id}'s text again with its own"
            )
        raise ValidationFailed(said, field="valid_from")

    async def _replace(
        self,
        predecessor: Fact | None,
        data: FactIn,
        valid_from: datetime,
        source_event_id: int | None,
    ) -> Fact:
        """Close `predecessor` at `valid_from` and insert `data` with its embedding (queued
        for Zep). A predecessor closed already, at a later time (its successor dated after
        `valid_from`), leaves `data` the rest of its time, and its successor supersedes
        `data` instead: the versions stay one chain."""
        vector = await self._embed(data.content)  # before any row changes
        until = predecessor.valid_to if predecessor is not None else None
        if predecessor is not None:
            await self.repo.close(predecessor.id, valid_from)
            await self._queue_zep_dates([predecessor])
        try:
            fact = await self.repo.insert(
                self._values(data, valid_from, until, predecessor, source_event_id)
            )
            if predecessor is not None and until is not None:
                await self.repo.hand_on(predecessor.id, fact.id)
            await self.repo.insert_embeddings(self.embedder.model, [(fact.id, vector)])
        except (IntegrityError, Conflict) as exc:
            raise Conflict("another write changed this fact at the same time; retry") from exc
        await self._queue_zep(fact.id, data)
        return fact

    def _values(
        self,
        data: FactIn,
        valid_from: datetime,
        valid_to: datetime | None,
        predecessor: Fact | None,
        source_event_id: int | None,
    ) -> dict[str, Any]:
        return {
            "subject_type": data.subject_type,
            "subject_id": data.subject_id,
            "fact_type": data.fact_type,
            "content": data.content,
            "salience_score": data.salience_score,
            "category": data.category,
            "client_id": data.client_id,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "metadata_": data.metadata,
            "supersedes_id": predecessor.id if predecessor else None,
            "source_event_id": source_event_id,
        }

    async def supersede(self, fact_id: int, data: SupersedeIn) -> FactWriteOut:
        """Close fact `fact_id` and open its successor, atomically (the one implementation).
        Only the API supersedes: a forget under way is waited for first, as in `write`."""
        await SentMarks(self.uow.session).lock_memory_writes(shared=True)
        found = await self.repo.get(fact_id)
        if found is None:
            raise NotFound(f"fact {fact_id} does not exist")
        # A fact closed at a later time (its successor dated after today) is still valid
        # now, and may be corrected: its successor then follows the correction (`_replace`).
        closed_at = found.valid_to
        if closed_at is not None and closed_at <= datetime.now(UTC):
            raise Conflict(
                f"fact {fact_id} was already superseded or closed at "
                f"{closed_at.astimezone(UTC).isoformat(timespec='minutes')}",
                field="fact_id",
            )
        # The slot lock first, then the row locks, in the order `write` takes them (else the
        # two deadlock); under it a racing write or supersede of this slot has committed.
        current = await self.repo.current_in_slot(
            found.subject_type,
            found.subject_id,
            found.fact_type,
            found.category,
            found.client_id,
            history=closed_at is not None,
        )
        old = next((f for f in current if f.id == fact_id), None)
        if old is None or old.valid_to != closed_at:
            raise Conflict(
                f"fact {fact_id} was superseded or closed by another write just now",
                field="fact_id",
            )
        current = [f for f in current if f.valid_to is None]
        valid_from = data.valid_from or datetime.now(UTC)
        if valid_from < old.valid_from:
            raise ValidationFailed(
                "valid_from is before the fact's own valid_from", field="valid_from"
            )
        if closed_at is not None and valid_from >= closed_at:
            raise ValidationFailed(
                f"valid_from is not before the fact's valid_to ({closed_at.isoformat()}), when "
                "its successor starts",
                field="valid_from",
            )
        new = FactIn(
            subject_type=old.subject_type,
            subject_id=old.subject_id,
            fact_type=old.fact_type,
            content=data.content,
            salience_score=(
                data.salience_score if data.salience_score is not None else old.salience_score
            ),
            category=old.category,
            client_id=old.client_id,
            valid_from=valid_from,
            metadata=data.metadata if data.metadata is not None else _carried(old.metadata_),
        )
        # Its later-dated successor says the same: that one starts at `valid_from` instead.
        following = await self._following(new, old) if closed_at is not None else None
        if following is not None and _same(following.content, new.content):
            moved = await self._start_earlier(following, new, valid_from)
            if moved is not None:
                return moved
        # Superseding by a statement the slot already holds (a category-less slot holds
        # several) keeps that one rather than storing it twice; one that starts after
        # `valid_from` (a later-dated successor) does not hold it then.
        same = next(
            (
                f
                for f in current
                if f.id != old.id and f.valid_from <= valid_from and _same(f.content, new.content)
            ),
            None,
        )
        if same is None:
            fact = await self._replace(old, new, valid_from, None)
        else:
            await self.repo.close(old.id, valid_from)
            await self._queue_zep_dates([old])
            fact = same
        self.invalidator.facts_changed(self.uow)
        return FactWriteOut(fact=fact_out(fact), duplicate=same is not None, superseded_id=old.id)

    async def list(self, query: FactsQuery) -> list[FactOut]:
        """Facts matching the filters: current ones, those valid at `as_of`, or all versions."""
        rows = await self.repo.find(
            subject_type=query.subject_type,
            subject_id=query.subject_id,
            fact_type=query.fact_type,
            as_of=query.as_of,
            include_history=query.include_history,
            limit=query.limit,
            for_client=query.for_client,
        )
        return [fact_out(f) for f in rows]

    async def get(self, fact_id: int) -> FactOut:
        """One fact, current or not."""
        fact = await self.repo.get(fact_id)
        if fact is None:
            raise NotFound(f"fact {fact_id} not found")
        return fact_out(fact)

    async def delete(self, fact_id: int) -> None:
        """Delete one fact; its successors keep their rows, their link to it becomes NULL
        (FK ON DELETE SET NULL). First the locks `MemoryService.delete_event` takes."""
        locks = SentMarks(self.uow.session)
        found, client_id = await locks.client_of_fact(fact_id)
        if found:
            await locks.lock_owner_then(client_id)
            await locks.lock_memory_writes(shared=False)
        fact = await self.repo.delete_by_id(Fact, fact_id)
        if fact is None:
            raise NotFound(f"fact {fact_id} does not exist")
        # The node it hung off (`person:ana`, named as the graph's trigger names it) goes
        # too once nothing hangs off it, as when forgetting: else the graph endpoints go
        # on answering for a subject the user has no fact about any more.
        subject = f"{fact.subject_type}:{fact.subject_id}"[:255]
        await EntityLinkRepository(self.uow.session).drop_subjects([subject])
        await self.repo.prune_search_terms(fact)  # words only it held, as when forgetting
        # As when forgetting: its queued send to Zep goes, and a copy there is deleted
        # (queued in this transaction; the job retries while Zep is down).
        await delete_queued_naming(self.uow.session, "fact_id", [fact.id])
        if self.to_zep and fact.zep_fact_id is not None:
            what = external_forget.ExternalForget(episodes=[fact.zep_fact_id])
            await external_forget.queue(self.uow.session, what)
        self.invalidator.facts_changed(self.uow)
