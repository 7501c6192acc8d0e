"""The Memory Gateway's behaviour: remember, recall, forget."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from almanac.cache import Cache
from almanac.config import Settings
from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.embedder import Embedder
from almanac.errors import NotFound, ValidationFailed
from almanac.jobs.queue import enqueue_many
from almanac.jobs.repository import delete_queued_for_events
from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.external.base import ExternalMemory
from almanac.memory.external.forget import forget_sent
from almanac.memory.external.fusion import (
    queue_sends,
)
from almanac.memory.external.repository import SentMarks
from almanac.memory.facts import FactService
from almanac.memory.graph_signal import link_memories
from almanac.memory.invalidation import Invalidator, event_namespaces
from almanac.memory.promotion import promotable
from almanac.memory.recall_service import RecallService
from almanac.memory.repository import EventRepository
from almanac.memory.results import RememberResult, check_duplicate, check_expiry, in_item
from almanac.memory.schemas import (
    EventOut,
    ForgetOut,
    RecallOut,
    RecallQuery,
    RememberIn,
)
from almanac.memory.search import SearchRepository
from almanac.models import Event

# A batch is embedded and written this many memories at a time, in its one transaction:
# a 1,000-memory request then never holds all its vectors, rows and bind parameters at
# once (the server's peak memory), and one INSERT stays far under Postgres' 65,535 binds.
WRITE_SLICE = 128


def event_out(event: Event) -> EventOut:
    """The API shape of an event row."""
    return row_out(EventOut, event)


class MemoryService:
    """Remember and recall over Postgres, with a recall cache in front."""

    def __init__(
        self,
        uow: UnitOfWork,
        embedder: Embedder,
        cache: Cache,
        settings: Settings,
        external: ExternalMemory | None = None,
    ) -> None:
        self.uow = uow
        self.external = external
        self.events = EventRepository(uow.session)
        self.search = SearchRepository(uow.session, settings.search)
        self.entity_links = EntityLinkRepository(uow.session)
        self.embedder = embedder
        self.cache = cache
        self.settings = settings
        self.invalidator = Invalidator(cache)
        self.facts = FactService(
            uow, embedder, self.invalidator, to_zep=settings.zep.api_key is not None
        )

    # -- writing ---------------------------------------------------------------------------

    def _row(self, item: RememberIn, now: datetime) -> dict[str, Any]:
        occurred = item.occurred_at or now
        return {
            "content": item.content,
            "event_type": item.event_type,
            "event_source": item.event_source,
            "client_id": item.client_id,
            "session_id": item.session_id,
            "memory_scope": item.memory_scope,
            "salience_score": item.salience_score,
            "occurred_at": occurred,
            "expires_at": item.expires_at,
            "metadata": item.metadata,
            "payload": {},
            "idempotency_key": item.idempotency_key,
        }

    async def remember_many(
        self, items: Sequence[RememberIn], *, wait_for_forgets: bool = True, batch: bool = False
    ) -> RememberResult:
        """Store all items or none; duplicates (by idempotency key) are returned, not rewritten.

        Events are not copied into the cache (reads by id go to Postgres): the only copies
        of a memory are its row, its embedding and the recalls that quote it. A forget under
        way is waited for (`DataLocks.lock_memory_writes`) unless `wait_for_forgets` is
        False: a caller that may hold a plan's row lock, which a forget waits for. In a
        `batch` a refusal names the item (`items[7].expires_at`).
        """
        keys = [i.idempotency_key for i in items if i.idempotency_key]
        if len(keys) != len(set(keys)):
            raise ValidationFailed("an idempotency_key appears twice in the batch", field="items")
        existing = await self.events.ids_by_keys(keys)
        fresh_pos = [
            pos
            for pos, i in enumerate(items)
            if not (i.idempotency_key and i.idempotency_key in existing)
        ]
        fresh = [items[pos] for pos in fresh_pos]
        now = datetime.now(UTC)
        for pos, item in zip(fresh_pos, fresh, strict=True):  # all checked before writing
            try:
                check_expiry(item, now)
                promotable(item, self.settings.memory.promotion_threshold)
            except ValidationFailed as exc:
                if not batch:
                    raise
                raise in_item(exc, pos) from None
        vectors: list[Any] = []
        for start in range(0, len(fresh), WRITE_SLICE):
            slice_ = fresh[start : start + WRITE_SLICE]
            vectors.extend(await self.embedder.embed([i.content for i in slice_]))
        # Embedded first: the keys' locks (see `lock_keys`) are held only while inserting,
        # not through an embedder's calls, which other batches would wait out.
        if wait_for_forgets:
            await SentMarks(self.uow.session).lock_memory_writes(shared=True)
        await self.events.lock_keys([i.idempotency_key for i in fresh if i.idempotency_key])
        new_ids: list[int | None] = []
        for start in range(0, len(fresh), WRITE_SLICE):
            end = start + WRITE_SLICE
            new_ids += await self._write_slice(fresh[start:end], vectors[start:end], now)
        # A concurrent retry may have won the race for a key between our check and insert.
        raced = [
            i.idempotency_key
            for i, new_id in zip(fresh, new_ids, strict=True)
            if new_id is None and i.idempotency_key
        ]
        if raced:
            existing |= await self.events.ids_by_keys(raced)
        new_by_pos = dict(zip(fresh_pos, new_ids, strict=True))
        result = RememberResult()
        namespaces: set[str] = set()
        for pos, item in enumerate(items):
            new_id = new_by_pos.get(pos)
            if new_id is None:  # seen before, or won by a concurrent retry
                assert item.idempotency_key is not None
                prior = existing[item.idempotency_key]
                check_duplicate(item, prior)
                result.add(prior.id, prior.promoted_to_fact_id, duplicate=pos)
                continue
            fact_id = await self._promote(item, new_id)
            result.add(new_id, fact_id)
            namespaces.update(event_namespaces(item.session_id, item.client_id))
        if namespaces:
            self.invalidator.events_changed(self.uow, sorted(namespaces))
        if self.settings.memory.link_entities:
            written = [(pos, i) for pos, i in new_by_pos.items() if i is not None]
            await link_memories(
                self.entity_links,
                [(i, items[pos].content) for pos, i in written],
                [items[pos].client_id for pos, _ in written],
            )
        await self._queue_extraction(items, new_by_pos, result)
        if self.settings.zep.api_key is not None:
            await queue_sends(self.uow.session, self.settings.zep, items, new_by_pos)
        return result

    async def _write_slice(
        self, items: Sequence[RememberIn], vectors: Sequence[Any], now: datetime
    ) -> list[int | None]:
        """Insert a few memories and their vectors; None where a concurrent retry won the key."""
        ids = await self.events.insert_many([self._row(item, now) for item in items])
        await self.events.insert_embeddings(
            self.embedder.model,
            [(i, v) for i, v in zip(ids, vectors, strict=True) if i is not None],
        )
        return ids

    async def _queue_extraction(
        self,
        items: Sequence[RememberIn],
        new_by_pos: dict[int, int | None],
        result: RememberResult,
    ) -> None:
        """Queue fact extraction for new salient memories not already promoted.

        Only with an LLM: without one, facts come from explicit metadata (promoted above)
        and from the numbers (reflections). The jobs commit with the memories, or not at all.
        """
        if self.settings.llm.provider == "none" or not self.settings.memory.extract_facts:
            return
        threshold = self.settings.memory.promotion_threshold
        promoted = dict(zip(result.ids, result.promoted, strict=True))
        wanted = [
            {"event_id": event_id}
            for pos, event_id in new_by_pos.items()
            if event_id is not None
            and items[pos].salience_score >= threshold
            and promoted.get(event_id) is None
        ]
        if wanted:
            await enqueue_many(self.uow.session, "observer:extract_facts", wanted, queue="observer")

    async def _promote(self, item: RememberIn, event_id: int) -> int | None:
        fact_in = promotable(item, self.settings.memory.promotion_threshold)
        if fact_in is None:
            return None
        try:
            written = await self.facts.write(fact_in, source_event_id=event_id)
        except ValidationFailed as exc:
            if not any(e.get("field") == "valid_from" for e in exc.errors):
                raise
            # The fact starts when the memory occurred: name the field the caller sent.
            raise ValidationFailed(
                f"occurred_at: the memory would become a fact starting then, but {exc.message}",
                field="occurred_at",
            ) from exc
        await self.events.link_fact(event_id, written.fact.id)
        return written.fact.id

    # -- reading ---------------------------------------------------------------------------

    async def recall(self, q: RecallQuery) -> RecallOut:
        """Hybrid search over events, facts and documents, cached per scope, with Zep's
        results fused when it is configured (memory.recall_service)."""
        return await RecallService(
            self.uow, self.embedder, self.cache, self.settings, self.search, self.external
        ).recall(q)

    async def get_event(self, event_id: int) -> EventOut:
        """One event by id (expired ones are gone)."""
        event = await self.events.get(event_id)
        if event is None or (event.expires_at and event.expires_at <= datetime.now(UTC)):
            raise NotFound(f"event {event_id} does not exist")
        return event_out(event)

    # -- forgetting ------------------------------------------------------------------------

    async def delete_event(self, event_id: int, *, lock: bool = True) -> None:
        """Delete one event and its embedding; a fact promoted from it stays. Its queued
        writes (the send to Zep, fact extraction) go too, and, as when forgetting, the
        words and entity names only it held, and its copy in Zep. First (unless `lock` is
        False: the port, under a plan's row lock) the data locks, as a forget takes them:
        an import of Zep's facts commits first, or waits and sees the deletion queued;
        then, as a forget, the memory-writes lock exclusive: the words and statistics it
        prunes are those a remember under way updates, in another order (they deadlocked)."""
        locks = SentMarks(self.uow.session)
        found, client_id = await locks.client_of_event(event_id)
        if lock and found:
            await locks.lock_owner_then(client_id)
            await locks.lock_memory_writes(shared=False)
        nodes = await self.entity_links.nodes_of([event_id])
        event = await self.events.delete_by_id(Event, event_id)
        if event is None:
            raise NotFound(f"event {event_id} does not exist")
        await delete_queued_for_events(self.uow.session, [event_id])
        if self.external is not None and event.zep_session_id is not None:
            sent = [(event.id, event.zep_session_id)]
            await forget_sent(self.uow, self.external, self.settings.zep, sent)
        await self.events.prune_search_terms(event)
        await self.entity_links.prune(nodes)
        self.invalidator.events_changed(
            self.uow, event_namespaces(event.session_id, event.client_id)
        )

    async def forget_subject(self, subject_type: str, subject_id: str) -> ForgetOut:
        """Delete every copy of what Almanac holds about a subject (see memory.forgetting)."""
        from almanac.memory.forgetting import forget_subject

        archives = self.settings.data_dir / "retention"
        return await forget_subject(
            self.uow,
            self.invalidator,
            archives,
            subject_type,
            subject_id,
            self.external,
            self.settings.zep,
            settings=self.settings,
        )
