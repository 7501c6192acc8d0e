"""Connections an engine's pool has checked out, counted with pool events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class PoolWatch:
    """Connections checked out of the pool right now, and the most at once."""

    now: int = 0
    peak: int = 0
    samples: list[int] = field(default_factory=list)

    def out(self, *_: Any) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def back(self, *_: Any) -> None:
        self.now -= 1

    async def sample(self, times: int = 20, every: float = 0.02) -> int:
        """The most connections held over `times` samples (while something waits)."""
        for _ in range(times):
            self.samples.append(self.now)
            await asyncio.sleep(every)
        return max(self.samples)


@contextmanager
def watch_pool(engine: AsyncEngine) -> Iterator[PoolWatch]:
    watch = PoolWatch()
    target = engine.sync_engine.pool
    event.listen(target, "checkout", watch.out)
    event.listen(target, "checkin", watch.back)
    try:
        yield watch
    finally:
        event.remove(target, "checkout", watch.out)
        event.remove(target, "checkin", watch.back)
