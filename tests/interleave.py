"""Interleavings made, not waited for: a step is stopped at a point inside it (after a
wrapped call) while another step runs until it is done or blocked on an advisory lock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from almanac.state import AppState

# Waits in this test's database only (another run on the machine may share the server).
WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def run_until_blocked(state: AppState, step: Awaitable[Any]) -> asyncio.Task[Any]:
    """Start `step` and return once it is done or waits for an advisory lock."""
    task: asyncio.Task[Any] = asyncio.ensure_future(step)
    async with asyncio.timeout(30):
        while not task.done():
            async with state.engine.connect() as conn:
                if await conn.scalar(WAITING):
                    break
            await asyncio.sleep(0.01)
    return task


def stop_inside(
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    name: str,
    other: Callable[[], Awaitable[Any]],
    state: AppState,
) -> list[asyncio.Task[Any]]:
    """Wrap `target.name`: after its first call, `other` runs until done or blocked."""
    started: list[asyncio.Task[Any]] = []
    real = getattr(target, name)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = await real(*args, **kwargs)
        if not started:
            started.append(await run_until_blocked(state, other()))
        return out

    monkeypatch.setattr(target, name, wrapped)
    return started
