"""Blocking calendar client calls (caldav, Google's library) run in a worker thread,
without outliving the coroutine that asked for them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[[], T], stop: threading.Event | None = None) -> T:
    """Run `fn` in a worker thread.

    Cancelled (a deadline, a client gone), it sets `stop` (which `fn` checks between its
    writes) and waits for the thread to end before the cancellation goes on: a thread
    cannot be killed, and a write landing after the caller released its locks or rolled
    back could overwrite what the next writer put there. The wait is bounded by the one
    HTTP request in flight (the client's own timeout).
    """
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        with contextlib.suppress(Exception):
            await work
        raise
