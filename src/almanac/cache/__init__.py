"""Caches: Valkey when configured, in-process otherwise.

The Valkey client (redis-py, ~15 MB) is imported only when a Valkey URL is configured.
"""

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.cache.base import Cache
from almanac.cache.local import LocalCache
from almanac.cache.shared import PostgresGenerations
from almanac.config import CacheSettings

if TYPE_CHECKING:
    from almanac.cache.valkey import ValkeyCache


def build_cache(
    settings: CacheSettings, valkey_url: str | None, engine: AsyncEngine | None = None
) -> Cache:
    """Pick the cache backend from settings; in-process caches share their generations
    through `engine`'s database when given (and `shared_generations` is on)."""
    match valkey_url:
        case str(url) if url:
            from almanac.cache.valkey import ValkeyCache

            return ValkeyCache.from_url(
                url,
                timeout=settings.socket_timeout_seconds,
                retry_after=settings.retry_after_seconds,
            )
        case _:
            shared = (
                PostgresGenerations(engine)
                if engine is not None and settings.shared_generations
                else None
            )
            return LocalCache(max_entries=settings.local_max_entries, shared=shared)


def __getattr__(name: str) -> Any:
    if name == "ValkeyCache":
        from almanac.cache.valkey import ValkeyCache

        return ValkeyCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Cache", "LocalCache", "ValkeyCache", "build_cache"]
