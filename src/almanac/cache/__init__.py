"""Caches: Valkey when configured, in-process otherwise."""

from almanac.cache.base import Cache
from almanac.cache.local import LocalCache
from almanac.cache.valkey import ValkeyCache
from almanac.config import CacheSettings


def build_cache(settings: CacheSettings, valkey_url: str | None) -> Cache:
    """Pick the cache backend from settings."""
    match valkey_url:
        case str(url) if url:
            return ValkeyCache.from_url(
                url,
                timeout=settings.socket_timeout_seconds,
                retry_after=settings.retry_after_seconds,
            )
        case _:
            return LocalCache(max_entries=settings.local_max_entries)


__all__ = ["Cache", "LocalCache", "ValkeyCache", "build_cache"]
