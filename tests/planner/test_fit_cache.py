"""Fits kept per process: the same history is fitted once, any change to it is fitted anew."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest

from almanac.planner import fit_cache
from almanac.planner.calibration import Run, WorkflowFit, fit_workflow
from almanac.planner.fit_cache import FitCache
from almanac.planner.params import DEFAULT, Params
from tests.planner.test_calibration import runs


def test_an_unchanged_history_is_fitted_once_and_each_caller_gets_its_own_copy() -> None:
    cache = FitCache()
    history = runs(1.4, weeks=8, noise=0.2, seed=3)
    first = cache.fit(1, history, DEFAULT)
    first.clients[99] = 5.0  # a caller changing its copy changes nobody else's
    again = cache.fit(1, list(history), DEFAULT)
    assert cache.fitted == 1
    assert 99 not in again.clients
    assert again == fit_workflow(1, history, DEFAULT)


def test_any_change_to_the_history_or_the_knobs_is_a_new_fit() -> None:
    cache = FitCache()
    history = runs(1.4, weeks=8, noise=0.2, seed=3)
    base = cache.fit(1, history, DEFAULT)
    edited = [*history[:-1], replace(history[-1], actual_hours=history[-1].actual_hours * 3)]
    changes = [
        (1, history[:-1], DEFAULT),  # a run deleted
        (1, [*history, replace(history[0], instance=999)], DEFAULT),  # a run added
        (1, edited, DEFAULT),  # a run's hours edited
        (1, [replace(r, client_id=2) for r in history], DEFAULT),  # another client
        (2, history, DEFAULT),  # another workflow
        (1, history, replace(DEFAULT, half_life_days=14.0)),  # other knobs
    ]
    for n, (wid, rows, params) in enumerate(changes, start=2):
        got = cache.fit(wid, rows, params)
        assert cache.fitted == n
        assert got == fit_workflow(wid, rows, params)
    assert cache.fit(1, edited, DEFAULT) != base  # the edit was seen, not served stale


def test_the_cache_keeps_at_most_its_size() -> None:
    cache = FitCache(size=2)
    histories = [runs(pace, weeks=3) for pace in (0.8, 1.0, 1.2)]
    for h in histories:
        cache.fit(1, h, DEFAULT)
    cache.fit(1, histories[0], DEFAULT)  # the oldest was dropped: fitted again
    assert cache.fitted == 4
    cache.fit(1, histories[2], DEFAULT)  # still kept
    assert cache.fitted == 4


class _SlowFit:
    """`fit_workflow` that takes a while in its worker thread, counting its calls: long
    enough that concurrent misses all arrive before the first fit is done."""

    def __init__(self, fail: int = 0) -> None:
        self.calls = 0
        self.fail = fail  # how many first calls raise
        self.started = threading.Event()

    def __call__(self, workflow_id: int, history: Sequence[Run], params: Params) -> WorkflowFit:
        self.calls += 1
        self.started.set()
        time.sleep(0.3)
        if self.calls <= self.fail:
            raise RuntimeError("fit failed")
        return fit_workflow(workflow_id, history, params)


def _slow_cache(
    monkeypatch: pytest.MonkeyPatch, fail: int = 0
) -> tuple[_SlowFit, FitCache, list[Run]]:
    """A fresh cache whose fits are slow (`_SlowFit`), and a history to fit."""
    slow = _SlowFit(fail)
    monkeypatch.setattr(fit_cache, "fit_workflow", slow)
    return slow, FitCache(), runs(1.4, weeks=8, noise=0.2, seed=3)


async def test_concurrent_misses_for_one_history_share_one_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow, cache, history = _slow_cache(monkeypatch)
    got = await asyncio.gather(*(cache.fit_async(1, list(history), DEFAULT) for _ in range(6)))
    assert slow.calls == 1 and cache.fitted == 1
    assert all(g == fit_workflow(1, history, DEFAULT) for g in got)
    assert len({id(g) for g in got}) == len(got)  # each caller its own copy
    got[0].clients[99] = 5.0
    assert 99 not in got[1].clients
    # Another history at the same time is fitted for itself.
    other = runs(0.9, weeks=5, seed=4)
    await asyncio.gather(cache.fit_async(1, history, DEFAULT), cache.fit_async(1, other, DEFAULT))
    assert slow.calls == 2


async def test_a_failed_shared_fit_reaches_every_waiter_and_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow, cache, history = _slow_cache(monkeypatch, fail=1)
    got = await asyncio.gather(
        *(cache.fit_async(1, history, DEFAULT) for _ in range(4)), return_exceptions=True
    )
    assert slow.calls == 1
    assert all(isinstance(g, RuntimeError) for g in got)
    assert await cache.fit_async(1, history, DEFAULT) == fit_workflow(1, history, DEFAULT)
    assert slow.calls == 2 and cache.fitted == 1


async def test_a_cancelled_caller_leaves_the_shared_fit_to_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow, cache, history = _slow_cache(monkeypatch)
    first = asyncio.create_task(cache.fit_async(1, history, DEFAULT))
    second = asyncio.create_task(cache.fit_async(1, history, DEFAULT))
    await asyncio.to_thread(slow.started.wait, 5)
    first.cancel()
    assert await second == fit_workflow(1, history, DEFAULT)
    assert first.cancelled() and slow.calls == 1 and cache.fitted == 1


async def test_a_fit_that_fails_with_no_caller_left_logs_no_unretrieved_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only caller cancelled, its fit then failing: the error is nobody's to raise, and
    asyncio reported it as "Task exception was never retrieved" when the task was dropped."""
    slow, cache, history = _slow_cache(monkeypatch, fail=1)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    monkeypatch.setattr(loop, "call_exception_handler", reported.append)
    caller = asyncio.create_task(cache.fit_async(1, history, DEFAULT))
    await asyncio.to_thread(slow.started.wait, 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    while cache._flying:  # the fit, left to finish on its own
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)  # its done callbacks
    gc.collect()
    assert [c["message"] for c in reported] == []
    assert slow.calls == 1 and cache.fitted == 0
