"""The one way other domains (planner, scheduler, observer) reach memory.

`MemoryPort` is what they need: recall, read facts, remember, write a fact. It is chosen
once, where a request's or a job's dependencies are wired (`memory_port`):

- `InProcessMemory` (one process serves the Gateway): `MemoryService` on the caller's
  unit of work, so reads see the caller's own writes, and a plan or reflection commits or
  rolls back together with what it remembered. It holds no connection of its own.
- `RemoteMemory` (Planner and Gateway as two processes): the Gateway over HTTP, one
  transaction per call on the Gateway's side; idempotency keys make a retry harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Protocol

from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError
from almanac.memory.client import HttpMemoryClient, gateway
from almanac.memory.external.factory import external_memory
from almanac.memory.results import differing_fields
from almanac.memory.schemas import (
    FactIn,
    FactOut,
    FactsQuery,
    FactWriteOut,
    RecallOut,
    RecallQuery,
    RememberIn,
)
from almanac.memory.service import MemoryService
from almanac.state import AppState


class MemoryPort(Protocol):
    """Memory as the other domains see it."""

    async def recall(self, query: RecallQuery) -> RecallOut: ...

    async def facts(self, query: FactsQuery) -> list[FactOut]: ...

    async def remember(self, item: RememberIn) -> int:
        """Remember `item` under its idempotency key (required); a different memory under
        the same key replaces the earlier one. Returns the event id."""
        ...

    async def write_fact(
        self, fact: FactIn, source_event_id: int | None = None
    ) -> FactWriteOut: ...

    async def lock_fact_slots(self, facts: Sequence[FactIn]) -> None:
        """Before writing several facts in one transaction: lock their slots in one order,
        so two such writers cannot deadlock."""
        ...


class InProcessMemory:
    """The Memory Gateway's service on the caller's unit of work."""

    def __init__(self, service: MemoryService) -> None:
        self.service = service
        # One session runs one statement at a time: callers may gather, calls take turns.
        self._turn = asyncio.Lock()

    async def recall(self, query: RecallQuery) -> RecallOut:
        async with self._turn:
            return await self.service.recall(query)

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        async with self._turn:
            return await self.service.facts.list(query)

    async def remember(self, item: RememberIn) -> int:
        key = item.idempotency_key
        if key is None:
            raise ValueError("remember() needs an idempotency key")
        async with self._turn:
            # Before the delete below (which holds the search statistics): the order of
            # every writer of keyed memories, so one cannot wait on a batch waiting on it.
            await self.service.events.lock_keys([key])
            # One memory per key: a changed memory replaces the old row (and its key).
            prior = (await self.service.events.ids_by_keys([key])).get(key)
            if prior is not None and differing_fields(item, prior):
                # No data lock: a caller may hold the plan's row lock, which a forget
                # (holding the data locks) waits for when it deletes the plan.
                await self.service.delete_event(prior.id, lock=False)
            # Not waiting for a forget either, for the same reason as the delete above.
            result = await self.service.remember_many([item], wait_for_forgets=False)
            return result.ids[0]

    async def write_fact(self, fact: FactIn, source_event_id: int | None = None) -> FactWriteOut:
        async with self._turn:
            return await self.service.facts.write(fact, source_event_id=source_event_id)

    async def lock_fact_slots(self, facts: Sequence[FactIn]) -> None:
        async with self._turn:
            await self.service.facts.lock_slots(facts)


class RemoteMemory:
    """A Memory Gateway in another process, over HTTP."""

    def __init__(self, client: HttpMemoryClient) -> None:
        self.client = client

    async def recall(self, query: RecallQuery) -> RecallOut:
        return await self.client.recall(query)

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        return await self.client.facts(query)

    async def remember(self, item: RememberIn) -> int:
        key = item.idempotency_key
        if key is None:
            raise ValueError("remember() needs an idempotency key")
        try:
            return (await self.client.remember(item)).id
        except AlmanacError as exc:  # the Gateway answers a key clash with a 409
            if exc.status_code != 409:
                raise
        # The Gateway cannot replace: a changed memory gets the key plus its digest.
        digest = hashlib.sha256(item.content.encode()).hexdigest()[:16]
        changed = item.model_copy(update={"idempotency_key": f"{key}:{digest}"})
        return (await self.client.remember(changed)).id

    async def forget_event(self, event_id: int) -> None:
        """Forget one memory this process wrote (gone already is done)."""
        try:
            await self.client.forget_event(event_id)
        except AlmanacError as exc:
            if exc.status_code != 404:
                raise

    async def write_fact(self, fact: FactIn, source_event_id: int | None = None) -> FactWriteOut:
        if source_event_id is not None:
            fact = fact.model_copy(
                update={"metadata": {**fact.metadata, "source_event_id": source_event_id}}
            )
        return await self.client.write_fact(fact)

    async def lock_fact_slots(self, facts: Sequence[FactIn]) -> None:
        """Nothing to do: each Gateway write is its own transaction, one slot at a time."""


def memory_service(uow: UnitOfWork, state: AppState) -> MemoryService:
    """The Memory Gateway's service on `uow`, with the process's providers."""
    return MemoryService(uow, state.embedder, state.cache, state.settings, external_memory(state))


def memory_port(uow: UnitOfWork, state: AppState) -> MemoryPort:
    """The Gateway over HTTP when `server.memory_gateway_url` is set, else in-process on
    `uow` (the one place the deployment decides how memory is reached)."""
    if state.settings.server.memory_gateway_url:
        return RemoteMemory(gateway(state))
    return InProcessMemory(memory_service(uow, state))
