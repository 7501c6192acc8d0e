"""The circuit breaker as a pure state machine, driven by a fake clock."""

from __future__ import annotations

import pytest

from almanac.llm.circuit import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_n_consecutive_failures_and_half_opens_after_reset() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        assert cb.allow()
        cb.record_failure()
    assert cb.state == "closed"
    assert cb.allow()
    cb.record_failure()
    assert cb.state == "open"
    assert not cb.allow()
    assert cb.retry_in() == pytest.approx(30)
    clock.now += 29.9
    assert cb.state == "open" and not cb.allow()
    clock.now += 0.1
    assert cb.state == "half_open"
    assert cb.allow()  # the one trial call
    assert not cb.allow()  # a second caller waits for the trial to end
    cb.record_success()
    assert cb.state == "closed" and cb.consecutive_failures == 0
    assert cb.allow() and cb.allow()


def test_a_success_resets_the_count() -> None:
    cb = CircuitBreaker(failure_threshold=2, reset_seconds=5, clock=Clock())
    cb.record_failure()
    cb.record_success()
    cb.record_failure()
    assert cb.state == "closed"
    cb.record_failure()
    assert cb.state == "open"


def test_failed_trial_reopens_for_a_full_reset_period() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=1, reset_seconds=10, clock=clock)
    cb.record_failure()
    clock.now += 10
    assert cb.allow()
    cb.record_failure()
    assert cb.state == "open"
    assert cb.retry_in() == pytest.approx(10)
    clock.now += 10
    assert cb.allow()


def test_release_frees_the_trial_slot_without_deciding() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=1, reset_seconds=1, clock=clock)
    cb.record_failure()
    clock.now += 1
    assert cb.allow()
    cb.release()
    assert cb.state == "half_open"
    assert cb.allow()


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0, reset_seconds=1)
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=1, reset_seconds=-1)
