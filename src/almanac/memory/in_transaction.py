"""Writing to the Memory Gateway from another domain's transaction (planner, observer).

When the Gateway is in-process (no `server.memory_gateway_url`), memories and facts are
written through `MemoryService`/`FactService` on the caller's UnitOfWork, so a plan or a
reflection commits or rolls back together with what it remembered. With a remote Gateway
they go through `memory_client(state)` (HTTP, one transaction per call); idempotency keys
make a retried job harmless there.
"""

from __future__ import annotations

import hashlib

from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError
from almanac.memory.client import memory_client
from almanac.memory.external.factory import external_memory
from almanac.memory.schemas import FactIn, FactOut, FactsQuery, FactWriteOut, RememberIn
from almanac.memory.service import MemoryService
from almanac.state import AppState


class TransactionalMemory:
    """Remember events and write facts, in the caller's transaction when possible."""

    def __init__(self, uow: UnitOfWork, state: AppState) -> None:
        self.uow = uow
        self.state = state
        self.local = not state.settings.server.memory_gateway_url
        self._service: MemoryService | None = None

    @property
    def service(self) -> MemoryService:
        if self._service is None:
            s = self.state
            self._service = MemoryService(
                self.uow, s.embedder, s.cache, s.settings, external_memory(s)
            )
        return self._service

    async def remember_replacing(self, item: RememberIn) -> int:
        """Remember `item` under its idempotency key, replacing an earlier, different memory.

        Locally the old event is deleted and the new one takes its key (one memory per
        period). Remotely the Gateway cannot replace, so a changed memory gets the key plus
        a digest of its content.
        """
        key = item.idempotency_key
        if self.local:
            assert key is not None
            prior = (await self.service.events.ids_by_keys([key])).get(key)
            if prior is not None and prior.content != item.content:
                await self.service.delete_event(prior.id)
            result = await self.service.remember_many([item])
            return result.ids[0]
        client = memory_client(self.state)
        try:
            return (await client.remember(item)).id
        except AlmanacError as exc:  # the HTTP client reports a key clash as a 409
            if exc.status_code != 409:
                raise
        digest = hashlib.sha256(item.content.encode()).hexdigest()[:16]
        changed = item.model_copy(update={"idempotency_key": f"{key}:{digest}"})
        return (await client.remember(changed)).id

    async def write_fact(self, fact: FactIn, source_event_id: int | None) -> FactWriteOut:
        """Write a fact; the FactService drops duplicates and supersedes by category."""
        if self.local:
            return await self.service.facts.write(fact, source_event_id=source_event_id)
        if source_event_id is not None:
            fact = fact.model_copy(
                update={"metadata": {**fact.metadata, "source_event_id": source_event_id}}
            )
        return await memory_client(self.state).write_fact(fact)

    async def current_facts(self, subject_type: str, subject_id: str) -> list[FactOut]:
        """The subject's current facts."""
        query = FactsQuery(subject_type=subject_type, subject_id=subject_id, limit=1000)
        if self.local:
            return await self.service.facts.list(query)
        return await memory_client(self.state).facts(query)
