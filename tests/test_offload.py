"""The worker processes costly parsing runs in (`almanac.offload`): a file's turn, a bound
on the files waiting, a refusal carried back, and a worker killed when a file overruns."""

from __future__ import annotations

import asyncio
import os
import time
from functools import partial

import pytest

from almanac.errors import Busy, ValidationFailed
from almanac.memory.documents.extract import extract
from almanac.offload import Worker


@pytest.fixture
def worker():
    made = Worker("the test reader", field="file", waiting=1, wait_seconds=30)
    yield made
    made.shutdown()


async def test_the_work_runs_in_another_process_and_a_refusal_comes_back(worker: Worker):
    """Parsing a PDF in a thread queued ahead of recall's embedding and held the GIL."""
    assert await worker.run(os.getpid, budget=30, grace=5) != os.getpid()
    with pytest.raises(ValidationFailed, match="not UTF-8") as err:
        await worker.run(partial(extract, max_pages=5), b"\x80", "text/plain", budget=30, grace=5)
    assert err.value.errors[0]["field"] == "file"


async def test_files_take_turns_and_more_than_may_wait_are_told_busy(worker: Worker):
    await worker.run(os.getpid, budget=30, grace=5)  # started: spawning is not timed below
    first = asyncio.create_task(worker.run(time.sleep, 1.0, budget=30, grace=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(worker.run(os.getpid, budget=30, grace=5))
    await asyncio.sleep(0.05)
    with pytest.raises(Busy, match="2 files in hand"):
        await worker.run(os.getpid, budget=30, grace=5)
    await first
    assert await second != os.getpid()  # the waiting one had its turn


async def test_a_file_waiting_too_long_is_told_busy(worker: Worker):
    worker.wait_seconds = 0.2
    await worker.run(os.getpid, budget=30, grace=5)
    first = asyncio.create_task(worker.run(time.sleep, 1.0, budget=30, grace=5))
    await asyncio.sleep(0.05)
    with pytest.raises(Busy, match="busy with other files"):
        await worker.run(os.getpid, budget=30, grace=5)
    await first


async def test_an_overrun_is_killed_and_the_next_file_gets_a_fresh_worker(worker: Worker):
    before = await worker.run(os.getpid, budget=30, grace=5)
    with pytest.raises(ValidationFailed, match="longer than 0.2 s") as err:
        await worker.run(time.sleep, 30, budget=0.2, grace=0.3)
    assert err.value.errors[0]["field"] == "file"
    assert await worker.run(os.getpid, budget=30, grace=5) not in (before, os.getpid())
