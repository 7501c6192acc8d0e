"""How a CLI command reaches memory: the running server if there is one, else in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import typer
from rich.console import Console

from almanac.auth.keyfile import auth_headers, client_key
from almanac.auth.principal import Principal
from almanac.config import Settings
from almanac.errors import AlmanacError
from almanac.memory.client import HttpMemoryClient, LocalMemoryClient, MemoryClient
from almanac.state import AppState, build_state

T = TypeVar("T")
# Who the CLI is when it runs the app in-process on a database it opened itself.
LOCAL_OWNER = Principal(key_id=0, name="local-cli", scope="admin")
err = Console(stderr=True)


def server_url(settings: Settings, url: str | None) -> str:
    return url or f"http://{settings.server.host}:{settings.server.port}"


def _headers(settings: Settings) -> dict[str, str]:
    """The key this CLI sends: `ALMANAC_API_KEY`, else the data folder's `api-key`."""
    return auth_headers(client_key(settings))


async def _server_up(url: str, headers: dict[str, str]) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=0.5, headers=headers) as client:
            response = await client.get("/health")
            return response.status_code == 200 and "memory" in response.json().get("services", [])
    except (httpx.HTTPError, ValueError):
        return False


@asynccontextmanager
async def memory_client(settings: Settings, url: str | None) -> AsyncIterator[MemoryClient]:
    """Use a running Gateway (so its cache stays coherent), or run the service in-process."""
    target = server_url(settings, url)
    headers = _headers(settings)
    if url is not None or await _server_up(target, headers):
        async with httpx.AsyncClient(base_url=target, timeout=120, headers=headers) as client:
            yield HttpMemoryClient(client)
        return
    state = await build_state(settings)
    try:
        yield LocalMemoryClient(state)
    finally:
        await state.close()


async def _serves(url: str, service: str, headers: dict[str, str]) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=0.5, headers=headers) as client:
            response = await client.get("/health")
            return service in response.json().get("services", [])
    except (httpx.HTTPError, ValueError):
        return False


@asynccontextmanager
async def api_client(
    settings: Settings, url: str | None, service: str = "planner", *, in_process: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the API: the running server when one answers (unless
    `in_process`), else the app in-process (same routes, validation and errors) over ASGI."""
    target = server_url(settings, url)
    headers = _headers(settings)
    if url is not None or (not in_process and await _serves(target, service, headers)):
        async with httpx.AsyncClient(base_url=target, timeout=120, headers=headers) as client:
            yield client
        return
    from almanac.app import create_app
    from almanac.auth.deps import authenticate
    from almanac.deps import get_state

    async with local_state(settings) as state:
        app = create_app(state=state)
        app.dependency_overrides[get_state] = lambda: state
        # In-process, the CLI opened the database itself: it acts as the owner (admin).
        app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", timeout=120
        ) as client:
            yield client


def answer(response: httpx.Response) -> Any:
    """The JSON body of a successful response; a problem becomes an `AlmanacError`."""
    if response.status_code < 400:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        raise AlmanacError(response.text or response.reason_phrase, response.status_code) from None
    detail = body.get("detail") or body.get("title") or response.reason_phrase
    fields = [f"{e['field']}: {e['message']}" for e in body.get("errors", []) if e.get("field")]
    if fields and not any(f in str(detail) for f in fields):
        detail = f"{detail} ({'; '.join(fields)})"
    raise AlmanacError(str(detail), response.status_code)


@asynccontextmanager
async def local_state(settings: Settings) -> AsyncIterator[AppState]:
    state = await build_state(settings)
    try:
        yield state
    finally:
        await state.close()


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; expected errors become a message and exit code 1 (2 for bad input)."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except AlmanacError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2 if 400 <= exc.status_code < 500 else 1) from exc
