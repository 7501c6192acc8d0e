"""Valkey (Redis protocol) cache with a short-circuit so an outage costs no latency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from almanac.cache.base import Cache

logger = logging.getLogger(__name__)

_PREFIX = "almanac:"
# Bumped once after any outage: writes made while Valkey was unreachable could not bump
# their generations, so every entry cached before the outage must be considered stale.
EPOCH_KEY = _PREFIX + "gen:epoch"


class ValkeyCache(Cache):
    """Valkey-backed cache. Errors mark it down for `retry_after` seconds; it then misses."""

    backend = "valkey"

    def __init__(self, client: redis.Redis, *, retry_after: float = 5.0) -> None:
        self._client = client
        self._retry_after = retry_after
        self._down_until = 0.0
        self._last_error: str | None = None
        self._needs_epoch_bump = False
        # Failures seen so far: a bump clears `_needs_epoch_bump` only if none came while
        # it was in flight (another connection's lost write needs a bump after it).
        self._failures = 0
        self._recovery: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float, retry_after: float) -> ValkeyCache:
        """A cache talking to `url` with short socket timeouts."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        return cls(client, retry_after=retry_after)

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _fail(self, exc: Exception) -> None:
        if self._last_error is None:
            logger.warning("Valkey unavailable, serving without cache: %s", exc)
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._down_until = time.monotonic() + self._retry_after
        self._stale_after_outage()

    def _stale_after_outage(self) -> None:
        """Remember to bump the epoch, and do it as soon as Valkey answers again."""
        self._needs_epoch_bump = True
        self._failures += 1
        if self._recovery is not None and not self._recovery.done():
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next call bumps
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        # Not left to this process's next request: until the bump, other processes (one
        # started after the outage, with no broken connection to notice it by) read the
        # old generations, and Valkey restarted from disk still holds the old entries.
        while self._needs_epoch_bump:
            await asyncio.sleep(max(self._retry_after, 0.05))
            try:
                await self._bump_epoch()
            except (RedisError, OSError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"

    async def _bump_epoch(self) -> None:
        seen = self._failures
        await self._client.incr(EPOCH_KEY)
        if self._failures == seen:
            self._needs_epoch_bump = False

    async def _run(self, op: str, *args: Any) -> Any:
        if not self._available():
            return None
        try:
            if self._needs_epoch_bump:
                await self._bump_epoch()
            result = await getattr(self._client, op)(*args)
        except (RedisError, OSError) as exc:
            self._fail(exc)
            return None
        if self._last_error is not None:
            logger.info("Valkey reachable again")
            self._last_error = None
        return result

    async def get(self, key: str) -> bytes | None:
        value = await self._run("get", _PREFIX + key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> bool:
        return bool(await self._run("set", _PREFIX + key, value, ttl_seconds))

    async def set_many(self, items: Sequence[tuple[str, bytes]], ttl_seconds: int) -> bool:
        """One pipelined round trip instead of one per key."""
        if not items:
            return True
        if not self._available():
            return False
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, value in items:
                    pipe.set(_PREFIX + key, value, ex=ttl_seconds)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._fail(exc)
            return False
        return all(bool(r) for r in results)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._run("delete", *[_PREFIX + k for k in keys])

    async def generations(self, namespaces: Sequence[str]) -> list[int] | None:
        keys = [EPOCH_KEY, *(_PREFIX + "gen:" + ns for ns in namespaces)]
        values = await self._run("mget", keys)
        if values is None:
            return None
        epoch, *gens = (int(v) if v is not None else 0 for v in values)
        # The epoch folds into every namespace, so one bump invalidates all of them.
        return [epoch * 1_000_000_007 + g for g in gens]

    async def bump(self, namespaces: Sequence[str]) -> None:
        if not namespaces:
            return
        if not self._available():
            self._stale_after_outage()
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for ns in namespaces:
                    pipe.incr(_PREFIX + "gen:" + ns)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._fail(exc)

    @property
    def status(self) -> str:
        if self._last_error is None:
            return "ok"
        return f"degraded: {self._last_error}"

    async def check(self) -> str:
        if not self._available():
            return self.status
        await self._run("ping")
        return self.status

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        await self._client.aclose()
