"""Stopping the embedded worker ends even when a cancel is swallowed."""

from __future__ import annotations

import asyncio

from almanac.jobs.worker import stop_embedded_worker


async def test_a_swallowed_cancel_is_followed_by_another() -> None:
    cancels = 0

    async def stubborn() -> None:
        nonlocal cancels
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancels += 1  # swallowed, as a worker between its steps may do
        await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    # Watched from outside, so that one cancel and an unbounded wait fails here, not hangs.
    stopper = asyncio.create_task(stop_embedded_worker(task, wait_seconds=0.2))
    done, _ = await asyncio.wait({stopper}, timeout=5)
    assert stopper in done
    assert task.done() and task.cancelled()
    assert cancels == 1


async def test_a_worker_that_stops_at_once_is_cancelled_once() -> None:
    task = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    await stop_embedded_worker(task, wait_seconds=5)
    assert task.cancelled()
