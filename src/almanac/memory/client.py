"""The Memory Gateway's HTTP client: the split Planner (through `memory.port`) and the CLI."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from almanac.auth.keyfile import gateway_key
from almanac.auth.principal import scope_allows
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
from almanac.redact import key_headers, mask_url
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
    key = gateway_key(state.settings)
    headers = key_headers(key, url)  # X-API-Key beside a proxy's login in the URL
    if not headers:
        logger.warning(
            "no key for the Memory Gateway at %s: set ALMANAC_SERVER__MEMORY_GATEWAY_KEY "
            "(a key with scope write) or the data folder's planner-gateway-key or api-key",
            mask_url(url),
        )
    limit = state.settings.server.memory_gateway_timeout_seconds
    client = httpx.AsyncClient(base_url=url, timeout=limit, headers=headers)
    return HttpMemoryClient(client, owns_client=True, deadline=limit, own_key=True)


M = TypeVar("M", bound=BaseModel)


class HttpMemoryClient:
    """Talks to a Memory Gateway over HTTP (the two-process deployment).

    Every way the Gateway can fail to serve (refused, silent past `deadline`, a 5xx, an
    answer that is not what its API promises) is `DependencyUnavailable` (503) naming it;
    a 4xx stays the Gateway's own answer with the fields it named (the request was refused,
    not the Gateway down), except a refusal of the Planner's own key (`own_key`).
    Unreachable or silent, it is not asked again for one deadline.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        owns_client: bool = False,
        deadline: float | None = None,
        own_key: bool = False,
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        # True for the Planner, calling with its own key (not its caller's): the Gateway
        # refusing that key is a 503 naming the setting, never the caller's 401/403.
        self.own_key = own_key
        # A whole call's limit: httpx's timeout is per read, so a Gateway that trickles
        # bytes could otherwise hold a request far longer.
        self.deadline = deadline
        # (monotonic time, why) of the last time the Gateway could not serve.
        self.last_failure: tuple[float, str] | None = None
        # Why the Gateway will not take the Planner's writes (a read-only key), from its
        # answer to /auth/me (asked once, `key_problem`) or a write it refused since.
        self.key_checked = False
        self.key_refused: str | None = None

    @property
    def where(self) -> str:
        """The words naming the Gateway, its URL's password masked (they reach plan notes)."""
        return f"Memory Gateway at {mask_url(str(self.client.base_url))}"

    async def close(self) -> None:
        """Close the HTTP client when this object created it."""
        if self.owns_client:
            await self.client.aclose()

    def _unavailable(self, why: str, *, silent: bool = False) -> DependencyUnavailable:
        if silent:
            # Only a Gateway that did not answer is skipped for a while: skipping saves
            # waiting it out again. An answer (a 503 `Busy` on one client's fact slot, a
            # 500 on one odd request) says nothing of the next call, which this one client
            # makes for every tenant, and its detail is that request's, not theirs to see.
            self.last_failure = (time.monotonic(), mask_url(why))
        return DependencyUnavailable(mask_url(f"{self.where} {why}"), headers={"Retry-After": "5"})

    async def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        failed = self.last_failure
        if self.deadline is not None and failed is not None:
            # For one deadline after a failure, calls fail at once instead of each waiting
            # it out again (a plan asks the Gateway several times).
            ago = time.monotonic() - failed[0]
            if ago < self.deadline:
                raise DependencyUnavailable(
                    f"{self.where} {failed[1]} {ago:.1f} s ago; not asked again yet",
                    headers={"Retry-After": "5"},
                )
        try:
            async with asyncio.timeout(self.deadline):
                response = await self.client.request(method, url, **kwargs)
        except TimeoutError as exc:
            raise self._unavailable(
                f"did not answer within {self.deadline:g} s", silent=True
            ) from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(
                f"unreachable ({type(exc).__name__}: {exc})", silent=True
            ) from exc
        if response.status_code >= 400:
            status = response.status_code
            problem = decode_problem(status, response.content, response.reason_phrase)
            if status >= 500:
                raise self._unavailable(f"answered {status}: {problem.message()}")
            if self.own_key and status in (401, 403):
                self.key_refused = (
                    f"refused the Planner's key ({status}: {problem.message()}); set "
                    "ALMANAC_SERVER__MEMORY_GATEWAY_KEY to a Gateway key with scope write"
                )
                raise DependencyUnavailable(f"{self.where} {self.key_refused}")
            retry = response.headers.get("retry-after", "").strip()
            headers = {"Retry-After": retry} if retry.isdigit() else None
            raise AlmanacError(problem.message(), status, errors=problem.errors, headers=headers)
        try:
            data = response.json()
        except ValueError as exc:
            raise self._unavailable("answered something that is not JSON") from exc
        self.last_failure = None
        if method != "GET":
            self.key_refused = None  # a write was taken: the key (now) allows it
        return data

    def _read(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self._unavailable(
                f"answered something that is not a {model.__name__} ({exc.error_count()} error(s))"
            ) from exc

    async def remember(self, item: RememberIn) -> RememberOut:
        data = await self._send(
            "POST", "/api/v1/memory/remember", json=item.model_dump(mode="json")
        )
        return self._read(RememberOut, data)

    async def forget_event(self, event_id: int) -> None:
        await self._send("DELETE", f"/api/v1/memory/events/{event_id}")

    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut:
        body = RememberBatchIn(items=list(items)).model_dump(mode="json")
        data = await self._send("POST", "/api/v1/memory/remember/batch", json=body)
        return self._read(RememberBatchOut, data)

    async def recall(self, query: RecallQuery) -> RecallOut:
        params = query.model_dump(mode="json", exclude_none=True)
        data = await self._send("GET", "/api/v1/memory/recall", params=params)
        return self._read(RecallOut, data)

    async def write_fact(self, fact: FactIn) -> FactWriteOut:
        data = await self._send("POST", "/api/v1/memory/facts", json=fact.model_dump(mode="json"))
        return self._read(FactWriteOut, data)

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        params = query.model_dump(mode="json", exclude_none=True)
        data = await self._send("GET", "/api/v1/memory/facts", params=params)
        if not isinstance(data, list):
            raise self._unavailable("answered something that is not a list of facts")
        return [self._read(FactOut, f) for f in data]

    async def key_problem(self) -> str | None:
        """Why the Planner's key cannot write to the Gateway (its scope, asked once of the
        Gateway's /api/v1/auth/me; or a refusal a call met since), None when it can."""
        if self.own_key and not self.key_checked:
            try:
                async with asyncio.timeout(self.deadline):
                    response = await self.client.get("/api/v1/auth/me")
                me = response.json() if response.status_code == 200 else None
            except (TimeoutError, httpx.HTTPError, ValueError):
                return self.key_refused  # asked again on the next /health
            if response.status_code >= 500 or response.status_code == 429:
                # Not an answer about the key (its database away a moment): taken as one, a
                # read-only key showed ok on every /health after.
                return self.key_refused
            self.key_checked = True
            me = me if isinstance(me, dict) else {}
            scope = me.get("scope")
            if isinstance(scope, str) and not scope_allows(scope, "write"):
                self.key_refused = (
                    f"takes the Planner's key {str(me.get('name'))[:100]!r} with scope "
                    f"{scope[:20]!r} only: remembering plans needs scope write (set "
                    "ALMANAC_SERVER__MEMORY_GATEWAY_KEY to a Gateway key with scope write)"
                )
        return self.key_refused

    async def health(self) -> tuple[int, Any]:
        """The Gateway's own /health (status code, body), within the deadline."""
        async with asyncio.timeout(self.deadline):
            response = await self.client.get("/health")
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None
