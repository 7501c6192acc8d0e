"""The cache interface: bytes by key with TTL, plus generation counters for invalidation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class Cache(ABC):
    """A best-effort cache. Implementations never raise on outage: they miss instead.

    `status` is "ok" or "degraded: <reason>" and is shown by /health.
    """

    backend: str

    @abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value, or None on a miss or an outage."""

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        """Store; False when the value could not be stored."""

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl_seconds: int) -> bool:
        """Store several values; False when any could not be stored."""
        ok = True
        for key, value in items:
            ok = await self.set(key, value, ttl_seconds) and ok
        return ok

    @abstractmethod
    async def delete(self, *keys: str) -> None:
        """Forget keys (best effort)."""

    @abstractmethod
    async def generations(self, namespaces: Sequence[str]) -> list[int] | None:
        """Current counters of `namespaces` (0 if never bumped); None on an outage."""

    @abstractmethod
    async def bump(self, namespaces: Sequence[str]) -> None:
        """Advance the counters so that entries keyed on old values are never read again."""

    @property
    @abstractmethod
    def status(self) -> str:
        """ "ok", or "degraded: reason"."""

    async def check(self) -> str:
        """Probe the backend and return the status."""
        return self.status

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
