"""Per-process auth state: verified keys, usage counters and the rate limiter.

Kept off the hot path: a request with a key verified in the last `key_cache_seconds`
costs a SHA-256 and a dict lookup, usage is counted in memory and written at most every
`usage_flush_seconds`, and the rate limit is one storage call.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import UTC, datetime

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from almanac.auth.principal import Principal
from almanac.auth.repository import AuthRepository
from almanac.config import SecuritySettings
from almanac.errors import RateLimited
from almanac.state import AppState

logger = logging.getLogger(__name__)
# An ASGI scope key an in-process caller sets on requests it makes for one already counted
# against the key's request limit (the MCP endpoint: its key check counted the MCP call, so
# the API calls a tool makes for it count only against the write limit). A scope key, not a
# header: nothing outside the process can set it.
COUNTED_UPSTREAM = "almanac.counted_upstream"

# Verified keys and sessions are few; a cap keeps a flood of distinct sessions bounded.
_MAX_CACHED = 10_000


def _limiter_storage(valkey_url: str | None) -> Storage:
    if not valkey_url:
        return MemoryStorage()
    scheme, rest = valkey_url.split("://", 1)
    scheme = scheme.lower()
    # limits reads `async+redis://` as a TCP host (localhost when none is named), so a
    # socket path needs its own scheme, or the limiter never reaches the cache's Valkey.
    if scheme == "unix":
        target = "redis+unix"
    else:
        target = "rediss" if scheme in ("rediss", "valkeys") else "redis"
    uri = f"async+{target}://{rest}"
    # Short timeouts: a rate-limit check must never hold a request for long.
    storage = storage_from_string(
        uri, implementation="redispy", socket_timeout=0.25, socket_connect_timeout=0.25
    )
    assert isinstance(storage, Storage)
    return storage


class AuthRuntime:
    """What authentication keeps in memory between requests, per process."""

    def __init__(self, settings: SecuritySettings, valkey_url: str | None = None) -> None:
        self.settings = settings
        # hash of a key or session token -> (valid until, principal, csrf hash or "")
        self._verified: dict[str, tuple[float, Principal, str]] = {}
        self._usage: dict[int, tuple[int, datetime]] = {}
        self._last_flush = time.monotonic()
        self._flush_lock = asyncio.Lock()
        self._limits = parse_many(settings.rate_limit)
        self._write_limits = parse_many(settings.write_rate_limit)
        self._failure_limits = parse_many(settings.failed_auth_limit)
        self.limiter_backend = "valkey" if valkey_url else "memory"
        self._limiter = SlidingWindowCounterRateLimiter(_limiter_storage(valkey_url))
        # Used while Valkey is unreachable, so limits still hold (per process) meanwhile;
        # after a failure Valkey is left alone for a few seconds.
        self._fallback = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared_down_until = 0.0

    # -- verified keys and sessions ---------------------------------------------------
    def cached(self, token_hash: str) -> tuple[Principal, str] | None:
        entry = self._verified.get(token_hash)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._verified.pop(token_hash, None)
            return None
        return entry[1], entry[2]

    def remember(self, token_hash: str, principal: Principal, csrf_hash: str = "") -> None:
        if self.settings.key_cache_seconds <= 0:
            return
        if len(self._verified) >= _MAX_CACHED:
            self._verified.clear()
        until = time.monotonic() + self.settings.key_cache_seconds
        self._verified[token_hash] = (until, principal, csrf_hash)

    def forget(self, *, key_id: int | None = None, token_hash: str | None = None) -> None:
        """Drop a revoked key (and its sessions) or a closed session from this process."""
        if token_hash is not None:
            self._verified.pop(token_hash, None)
        if key_id is not None:
            for h, entry in list(self._verified.items()):
                if entry[1].key_id == key_id:
                    self._verified.pop(h, None)

    # -- usage ------------------------------------------------------------------------
    def record(self, key_id: int) -> None:
        count, _ = self._usage.get(key_id, (0, datetime.min))
        self._usage[key_id] = (count + 1, datetime.now(UTC))

    def flush_due(self) -> bool:
        interval = self.settings.usage_flush_seconds
        return bool(self._usage) and time.monotonic() - self._last_flush >= interval

    async def flush(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Write the counted usage in its own transaction; on failure keep it for later."""
        if self._flush_lock.locked():
            return
        async with self._flush_lock:
            usage, self._usage = self._usage, {}
            self._last_flush = time.monotonic()
            if not usage:
                return
            try:
                async with sessionmaker() as session:
                    await AuthRepository(session).add_usage(usage)
                    await session.commit()
            except Exception:
                logger.warning("could not record key usage; keeping it for the next flush")
                for kid, (n, at) in usage.items():
                    count, last = self._usage.get(kid, (0, at))
                    self._usage[kid] = (count + n, max(last, at))

    # -- rate limits ------------------------------------------------------------------
    async def check_rate(self, principal: Principal, *, write: bool, counted: bool = False) -> None:
        """Count one request for the key; 429 with Retry-After when over a limit. A request
        `counted` already (see `COUNTED_UPSTREAM`) is held to the write limit only."""
        items = ([] if counted else self._limits) + (self._write_limits if write else [])
        await self._check(items, f"key:{principal.key_id}", f"key {principal.name!r}")

    async def check_failure(self, address: str) -> None:
        """Count one request with a wrong key from `address`; 429 when there are too many."""
        await self._check(self._failure_limits, f"failed:{address}", f"wrong keys from {address}")

    async def _check(self, items: list[RateLimitItem], ident: str, who: str) -> None:
        for item in items:
            if not await self._hit(item, ident):
                retry = await self._retry_after(item, ident)
                raise RateLimited(
                    f"rate limit of {item} for {who} exceeded; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )

    def _current(self) -> SlidingWindowCounterRateLimiter:
        return self._fallback if time.monotonic() < self._shared_down_until else self._limiter

    async def _hit(self, item: RateLimitItem, ident: str) -> bool:
        limiter = self._current()
        try:
            return await limiter.hit(item, "almanac", ident)
        except Exception:
            logger.warning("rate limit storage unavailable; limiting in this process for 5 s")
            self._shared_down_until = time.monotonic() + 5.0
            return await self._fallback.hit(item, "almanac", ident)

    async def _retry_after(self, item: RateLimitItem, ident: str) -> int:
        try:
            stats = await self._current().get_window_stats(item, "almanac", ident)
        except Exception:
            stats = await self._fallback.get_window_stats(item, "almanac", ident)
        return max(1, math.ceil(stats.reset_time - time.time()))


def auth_runtime(state: AppState) -> AuthRuntime:
    """The process's authentication state, created on first use and flushed on close."""
    if state.auth is None:
        state.auth = AuthRuntime(state.settings.security, state.settings.effective_valkey_url)
    assert isinstance(state.auth, AuthRuntime)
    return state.auth
