"""calendars.threads.in_thread: a cancelled caller goes on only once the worker thread has
ended, however often it is cancelled meanwhile (a deadline, then the job's own shutdown):
a write landing after its locks were released could overwrite the next writer's."""

from __future__ import annotations

import asyncio
import threading

import pytest

from almanac.calendars.threads import in_thread


async def test_a_caller_cancelled_twice_still_waits_for_the_thread():
    release = threading.Event()
    stop = threading.Event()
    finished = threading.Event()

    def write() -> str:
        release.wait(10)  # one remote request in flight
        finished.set()
        return "written"

    caller = asyncio.ensure_future(in_thread(write, stop))
    await asyncio.sleep(0.05)
    caller.cancel()  # a deadline
    await asyncio.sleep(0.05)
    assert stop.is_set() and not caller.done()
    caller.cancel()  # then the worker shutting down
    await asyncio.sleep(0.1)
    assert not caller.done(), "went on while the thread was still writing"
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished.is_set()


async def test_an_uncancelled_call_returns_the_threads_answer_or_error():
    assert await in_thread(lambda: 42) == 42

    def fail() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await in_thread(fail)
