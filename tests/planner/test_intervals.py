"""80% intervals: held-out residuals and the errors plans really made."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from almanac.planner.calibration import Run, fit_workflow, predict
from almanac.planner.intervals import held_out, weighted_spread

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
TASKS = {"audit": 4.0, "call": 1.0, "report": 2.0, "review": 1.5, "deck": 3.0}


def world(
    paces: dict[int, list[float]], *, noise: float, engagement_sd: float, seed: int
) -> list[Run]:
    """One engagement a week per client; week w of client c at paces[c][w] x the library."""
    rng = random.Random(seed)
    out = []
    for c, weekly in paces.items():
        for week, pace in enumerate(weekly):
            at = T0 + timedelta(weeks=week, hours=c)
            hard = math.exp(rng.gauss(0, engagement_sd))
            for key, hours in TASKS.items():
                actual = hours * pace * hard * math.exp(rng.gauss(0, noise))
                out.append(Run(7, key, c, hours, actual, at, 1000 * c + week))
    return out


def test_held_out_residuals_are_larger_for_an_engagement_that_fixed_its_client() -> None:
    # One client with a single engagement: its runs pulled the client effect to themselves.
    residuals = [0.05, 0.05, -0.02, -0.02]
    out = held_out(
        residuals,
        [1.0] * 4,
        [1.0] * 4,
        [1, 1, 2, 2],
        [10, 10, 20, 20],
        ["a", "b", "a", "b"],
        k_group=0.5,
        k_task=50.0,
    )
    assert all(abs(o) > abs(r) for o, r in zip(out, residuals, strict=True))


def test_the_interval_covers_about_eighty_percent_of_what_comes_next() -> None:
    rng = random.Random(3)
    paces = {1: [1.4] * 14, 2: [0.9] * 14}
    history = world(paces, noise=0.3, engagement_sd=0.1, seed=5)
    # The plans that were made: the true pace, off by what the estimator did not know yet.
    planned = [
        Run(
            r.workflow_id,
            r.task,
            r.client_id,
            r.library_hours,
            r.actual_hours,
            r.at,
            r.instance,
            planned_hours=r.library_hours
            * (1.4 if r.client_id == 1 else 0.9)
            * math.exp(rng.gauss(0, 0.05)),
        )
        for r in history
    ]
    f = fit_workflow(7, planned)
    e = predict(f, "audit", 1)
    draws = [1.4 * math.exp(rng.gauss(0, 0.1) + rng.gauss(0, 0.3)) for _ in range(4000)]
    covered = sum(e.low <= d <= e.high for d in draws) / len(draws)
    assert 0.72 <= covered <= 0.88


def test_weighted_spread_reads_the_errors_plans_made() -> None:
    rng = random.Random(1)
    errors = [(rng.gauss(0.1, 0.2), 1.0) for _ in range(2000)]
    low, high = weighted_spread(errors, prior_sd=0.3, prior_n=5)
    # 10th and 90th percentiles of N(0.1, 0.2): 0.1 -/+ 0.256.
    assert low == pytest.approx(0.156, abs=0.03)
    assert high == pytest.approx(0.356, abs=0.03)


def test_weighted_spread_does_not_care_how_small_the_weights_are() -> None:
    # Errors from runs decades older than the newest weigh ~1e-200: their squares
    # underflow to 0 (the effective n was total^2 / 0, a ZeroDivisionError).
    rng = random.Random(2)
    errors = [(rng.gauss(0.1, 0.2), 1.0) for _ in range(40)]
    tiny = [(e, w * 1e-200) for e, w in errors]
    assert weighted_spread(tiny, prior_sd=0.3, prior_n=5) == pytest.approx(
        weighted_spread(errors, prior_sd=0.3, prior_n=5)
    )


def test_runs_centuries_apart_fit_on_the_newest() -> None:
    # Recency weights of runs 200 years older than the newest underflow to 0.
    old = Run(7, "audit", 1, 4.0, 8.0, datetime(1901, 1, 1, tzinfo=UTC), 1)
    new = Run(7, "audit", 2, 4.0, 6.0, datetime(2199, 1, 1, tzinfo=UTC), 2)
    fitted = fit_workflow(7, [old, new])
    assert fitted.support.runs == 2
    assert 1.0 < predict(fitted, "audit", 2).ratio < 1.5
