"""Hand freed heap back to the operating system, so a server's RSS follows its work.

CPython keeps small objects in its own pools, but the buffers of a batch (embeddings,
result rows, JSON bodies) come from malloc, and glibc keeps what is freed for reuse,
returning only the top of the heap. After a burst (a 1,000-memory import, a week's
schedule) the process stays at its peak for good. `malloc_trim(0)` releases every free
page; it takes a few milliseconds, so a server calls it every few seconds.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import sys
from functools import cache
from typing import Any


@cache
def _libc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    return libc


def trim() -> bool:
    """Release free heap pages; False where the C library cannot."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


async def trim_every(seconds: float) -> None:
    """Trim the heap every `seconds` until cancelled (a no-op without glibc)."""
    if _libc() is None:
        return
    while True:
        await asyncio.sleep(seconds)
        trim()
