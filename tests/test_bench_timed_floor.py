"""The drift benchmark's timed floor: an estimator told when a drift began keeps its d+0
plan and moves it by what the runs logged since say, pooled over the drift's clients."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from learning_metrics import timed_floor  # noqa: E402


def test_the_d0_plan_moves_by_the_runs_since_against_their_own_plans() -> None:
    plan0 = {(0, 1): {"audit": 4.0, "call": 2.0}, (0, 2): {"audit": 8.0, "call": 1.0}}
    # Client 1's runs came in 20% over its plan, client 2's too (against its own plan).
    since = [(1, "audit", 4.8), (2, "audit", 9.6), (2, "call", 1.2)]
    assert timed_floor(plan0, 0, 1, since) == pytest.approx(6.0 * 1.2)
    assert timed_floor(plan0, 0, 2, since) == pytest.approx(9.0 * 1.2)
    # One client's own runs only: the other's plan is not moved by them.
    assert timed_floor(plan0, 0, 1, [(1, "call", 1.0)]) == pytest.approx(6.0 * 0.5)


def test_nothing_logged_since_or_no_d0_plan_is_none() -> None:
    plan0 = {(0, 1): {"audit": 4.0}}
    assert timed_floor(plan0, 0, 1, []) is None
    assert timed_floor(plan0, 1, 1, [(1, "audit", 5.0)]) is None  # another drift's plan
    assert timed_floor(plan0, 0, 3, [(1, "audit", 5.0)]) is None  # a client without a plan
