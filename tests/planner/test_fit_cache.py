"""Fits kept per process: the same history is fitted once, any change to it is fitted anew."""

from __future__ import annotations

from dataclasses import replace

from almanac.planner.calibration import fit_workflow
from almanac.planner.fit_cache import FitCache
from almanac.planner.params import DEFAULT
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
