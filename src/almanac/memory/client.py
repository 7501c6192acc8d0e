"""The Memory Gateway's HTTP client: the split Planner (through `memory.port`) and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from almanac.auth.keyfile import auth_headers, gateway_key
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.http_problems import decode_problem
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
from almanac.state import AppState

logger = logging.getLogger(__name__)


def gateway(state: AppState) -> HttpMemoryClient:
    """The process's HTTP client for the Memory Gateway at `server.memory_gateway_url`,
    connected on first use and closed with the state."""
    if state.memory is None:
        state.memory = connect_gateway(state)
    client = state.memory
    assert isinstance(client, HttpMemoryClient)
    return client


def connect_gateway(state: AppState) -> HttpMemoryClient:
    """A new HTTP client for the Gateway, sending the Planner's key."""
    url = state.settings.server.memory_gateway_url
    if not url:
        raise RuntimeError("no server.memory_gateway_url: memory is in-process")
    headers = auth_headers(gateway_key(state.settings))
    if not headers:
        logger.warning(
            "no key for the Memory Gateway at %s: set ALMANAC_SERVER__MEMORY_GATEWAY_KEY "
            "(a key with scope write) or the data folder's api-key",
            url,
        )
    client = httpx.AsyncClient(base_url=url, timeout=10.0, headers=headers)
    return HttpMemoryClient(client, owns_client=True, own_key=True)


def _gateway_error(response: httpx.Response, *, own_key: bool) -> AlmanacError:
    """The caller's answer for a Gateway error: its 4xx with the fields it named; a 5xx as
    503; with `own_key` (the Planner calling with its own key), a refusal of that key as
    503 too: the caller's key and request are fine, a 401/403 would name a key they never
    sent."""
    status = response.status_code
    problem = decode_problem(status, response.content, response.reason_phrase)
    retry = response.headers.get("retry-after")
    headers = {"Retry-After": retry} if retry and retry.strip().isdigit() else None
    if own_key and status in (401, 403):
        return DependencyUnavailable(
            f"the Memory Gateway refused the Planner's key ({status}: {problem.message()}); "
            "set ALMANAC_SERVER__MEMORY_GATEWAY_KEY to a Gateway key with scope write"
        )
    if status >= 500:
        return DependencyUnavailable(
            f"the Memory Gateway failed ({status}: {problem.message()})",
            headers=headers or {"Retry-After": "5"},
        )
    return AlmanacError(problem.message(), status, errors=problem.errors, headers=headers)


class HttpMemoryClient:
    """Talks to a Memory Gateway over HTTP (the two-process deployment)."""

    def __init__(
        self, client: httpx.AsyncClient, *, owns_client: bool = False, own_key: bool = False
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        # True for the Planner (its key, not its caller's): see `_gateway_error`.
        self.own_key = own_key

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
            raise _gateway_error(response, own_key=self.own_key)
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
