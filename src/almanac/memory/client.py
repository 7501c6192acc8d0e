"""How other parts (the Planner, the CLI) reach the Memory Gateway: in-process or over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.http_problems import decode_problem
from almanac.memory.external.factory import external_memory
from almanac.memory.results import RememberResult
from almanac.memory.schemas import (
    FactIn,
    FactOut,
    FactsQuery,
    FactWriteOut,
    RecallOut,
    RecallQuery,
    RememberBatchIn,
    RememberBatchOut,
    RememberIn,
    RememberOut,
)
from almanac.memory.service import MemoryService
from almanac.state import AppState

logger = logging.getLogger(__name__)


class MemoryClient(Protocol):
    """The Memory Gateway as seen by its callers."""

    async def remember(self, item: RememberIn) -> RememberOut: ...
    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut: ...
    async def recall(self, query: RecallQuery) -> RecallOut: ...
    async def write_fact(self, fact: FactIn) -> FactWriteOut: ...
    async def facts(self, query: FactsQuery) -> list[FactOut]: ...
    async def close(self) -> None: ...


def memory_client(state: AppState) -> MemoryClient:
    """The state's memory client, connected on first use and closed with the state."""
    if state.memory is None:
        state.memory = connect_memory(state)
    client: MemoryClient = state.memory  # type: ignore[assignment]
    return client


def connect_memory(state: AppState) -> MemoryClient:
    """The Gateway at `server.memory_gateway_url` over HTTP, or in-process when unset."""
    url = state.settings.server.memory_gateway_url
    if url:
        from almanac.auth.keyfile import auth_headers, gateway_key

        headers = auth_headers(gateway_key(state.settings))
        if not headers:
            logger.warning(
                "no key for the Memory Gateway at %s: set ALMANAC_SERVER__MEMORY_GATEWAY_KEY "
                "(a key with scope write) or the data folder's api-key",
                url,
            )
        client = httpx.AsyncClient(base_url=url, timeout=10.0, headers=headers)
        return HttpMemoryClient(client, owns_client=True)
    return LocalMemoryClient(state)


class LocalMemoryClient:
    """Calls the service directly, one transaction per call."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def close(self) -> None:
        """Nothing to release: the state owns the database."""

    def _service(self, uow: UnitOfWork) -> MemoryService:
        s = self.state
        return MemoryService(uow, s.embedder, s.cache, s.settings, external_memory(s))

    async def _run(self, call: Any) -> Any:
        async with self.state.sessionmaker() as session:
            uow = UnitOfWork(session)
            try:
                result = await call(self._service(uow))
            except BaseException:
                await uow.rollback()
                raise
            await uow.commit()
            return result

    async def remember(self, item: RememberIn) -> RememberOut:
        result: RememberResult = await self._run(lambda s: s.remember_many([item]))
        return result.one()  # after `_run` committed, so `stored_in` is complete

    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut:
        result: RememberResult = await self._run(lambda s: s.remember_many(items))
        return result.batch()

    async def recall(self, query: RecallQuery) -> RecallOut:
        result: RecallOut = await self._run(lambda s: s.recall(query))
        return result

    async def write_fact(self, fact: FactIn) -> FactWriteOut:
        result: FactWriteOut = await self._run(lambda s: s.facts.write(fact))
        return result

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        result: list[FactOut] = await self._run(lambda s: s.facts.list(query))
        return result


class HttpMemoryClient:
    """Talks to a Memory Gateway over HTTP (the two-process deployment)."""

    def __init__(self, client: httpx.AsyncClient, *, owns_client: bool = False) -> None:
        self.client = client
        self.owns_client = owns_client

    async def close(self) -> None:
        """Close the HTTP client when this object created it."""
        if self.owns_client:
            await self.client.aclose()

    async def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Memory Gateway unreachable: {exc}") from exc
        if response.status_code >= 400:
            problem = decode_problem(response.status_code, response.content, response.reason_phrase)
            raise AlmanacError(problem.message(), response.status_code)
        return response.json()

    async def remember(self, item: RememberIn) -> RememberOut:
        data = await self._send(
            "POST", "/api/v1/memory/remember", json=item.model_dump(mode="json")
        )
        return RememberOut.model_validate(data)

    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut:
        body = RememberBatchIn(items=list(items)).model_dump(mode="json")
        data = await self._send("POST", "/api/v1/memory/remember/batch", json=body)
        return RememberBatchOut.model_validate(data)

    async def recall(self, query: RecallQuery) -> RecallOut:
        params = query.model_dump(mode="json", exclude_none=True)
        data = await self._send("GET", "/api/v1/memory/recall", params=params)
        return RecallOut.model_validate(data)

    async def write_fact(self, fact: FactIn) -> FactWriteOut:
        data = await self._send("POST", "/api/v1/memory/facts", json=fact.model_dump(mode="json"))
        return FactWriteOut.model_validate(data)

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        params = query.model_dump(mode="json", exclude_none=True)
        data = await self._send("GET", "/api/v1/memory/facts", params=params)
        return [FactOut.model_validate(f) for f in data]
