"""How a CLI command reaches memory: the running server if there is one, else in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import typer
from rich.console import Console

from almanac.config import Settings
from almanac.errors import AlmanacError
from almanac.memory.client import HttpMemoryClient, LocalMemoryClient, MemoryClient
from almanac.state import AppState, build_state

T = TypeVar("T")
err = Console(stderr=True)


def server_url(settings: Settings, url: str | None) -> str:
    return url or f"http://{settings.server.host}:{settings.server.port}"


async def _server_up(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=0.5) as client:
            response = await client.get("/health")
            return response.status_code == 200 and "memory" in response.json().get("services", [])
    except (httpx.HTTPError, ValueError):
        return False


@asynccontextmanager
async def memory_client(settings: Settings, url: str | None) -> AsyncIterator[MemoryClient]:
    """Use a running Gateway (so its cache stays coherent), or run the service in-process."""
    target = server_url(settings, url)
    if url is not None or await _server_up(target):
        async with httpx.AsyncClient(base_url=target, timeout=120) as client:
            yield HttpMemoryClient(client)
        return
    state = await build_state(settings)
    try:
        yield LocalMemoryClient(state)
    finally:
        await state.close()


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
