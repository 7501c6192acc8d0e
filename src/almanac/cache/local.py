"""In-process cache, used when no Valkey is configured."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence

from almanac.cache.base import Cache
from almanac.cache.shared import PostgresGenerations


class LocalCache(Cache):
    """An LRU with per-entry expiry; lives and dies with the process."""

    backend = "memory"

    def __init__(
        self, max_entries: int = 10_000, shared: PostgresGenerations | None = None
    ) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._gens: dict[str, int] = {}
        # With `shared`, generations live in Postgres so other processes' writes count.
        self._shared = shared

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        if self._max == 0:
            return False
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)
        return True

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def generations(self, namespaces: Sequence[str]) -> list[int] | None:
        if self._shared is not None:
            try:
                return await self._shared.read(namespaces)
            except Exception:  # no generations, no cache: never serve a possibly stale entry
                return None
        return [self._gens.get(ns, 0) for ns in namespaces]

    async def bump(self, namespaces: Sequence[str]) -> None:
        if self._shared is not None:
            await self._shared.bump(namespaces)
            return
        for ns in namespaces:
            self._gens[ns] = self._gens.get(ns, 0) + 1

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()

    @property
    def status(self) -> str:
        return "ok"
