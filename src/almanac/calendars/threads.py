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
    HTTP request in flight (the client's own timeout), and outlasts further cancellations
    (a deadline, then a shutdown): each is delivered once the thread has ended.
    """
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        while not work.done():
            # Shielded: a plain `await work` cancelled again would cancel only the wait.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(work)
        if not work.cancelled():
            work.exception()  # retrieved: the caller is told it was cancelled, not this
        raise
