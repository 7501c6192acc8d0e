"""A client's pace across workflows as the prior on each (planner/pooling.py, pure)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from almanac.planner.calibration import Run, fit_workflow, predict
from almanac.planner.pooling import client_priors

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
TASKS = {"audit": 4.0, "call": 1.0, "report": 2.0}


def runs(wid: int, paces: dict[int, float], weeks: int, seed: int, noise: float) -> list[Run]:
    rng = random.Random(seed)
    out = []
    for week in range(weeks):
        for c, pace in paces.items():
            for key, hours in TASKS.items():
                actual = hours * pace * math.exp(rng.gauss(0, noise))
                at = T0 + timedelta(weeks=week)
                out.append(Run(wid, key, c, hours, actual, at, wid * 1000 + week * 10 + c))
    return out


def test_a_client_slow_everywhere_is_expected_slow_on_a_workflow_it_barely_ran() -> None:
    # Client 1 runs 1.5x the others on three workflows; on the fourth it has one engagement.
    fits = {
        w: fit_workflow(w, runs(w, {1: 1.5, 2: 1.0, 3: 1.0}, 10, seed=w, noise=0.1))
        for w in (1, 2, 3)
    }
    sparse = runs(4, {2: 1.0, 3: 1.0}, 10, seed=4, noise=0.1) + runs(4, {1: 1.5}, 1, 9, 0.3)
    fits[4] = fit_workflow(4, sparse)
    priors = client_priors(fits)
    mean, sd = priors[4][1]
    # Its effect on each: log 1.5 less the workflow's mean over the three clients, 0.27.
    assert 0.2 < mean < 0.35
    pooled = fit_workflow(4, sparse, client_prior=priors[4])
    alone = predict(fits[4], "audit", 1).ratio
    assert abs(math.log(predict(pooled, "audit", 1).ratio / 1.5)) < abs(math.log(alone / 1.5))


def test_a_client_whose_pace_differs_by_workflow_is_pooled_little() -> None:
    # Client 1 is fast on two workflows and slow on two: no general pace to borrow.
    paces = {1: 0.6, 2: 1.6, 3: 0.6, 4: 1.6}
    fits = {
        w: fit_workflow(w, runs(w, {1: p, 2: 1.0, 3: 1.0}, 10, seed=w, noise=0.1))
        for w, p in paces.items()
    }
    priors = client_priors(fits)
    for w, p in paces.items():
        pooled = fit_workflow(
            w, runs(w, {1: p, 2: 1.0, 3: 1.0}, 10, w, 0.1), client_prior=priors[w]
        )
        assert predict(pooled, "audit", 1).ratio == pytest.approx(p, rel=0.08)
