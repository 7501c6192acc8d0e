"""Prior spreads read from the runs (planner/spreads.py) and what they do to the fit."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from almanac.planner.calibration import fit_workflow, predict
from almanac.planner.params import DEFAULT
from almanac.planner.spreads import group_spread
from tests.planner.test_calibration import runs


def _groups(
    effects: list[float], engagements: int, seed: int
) -> tuple[list[float], list[float], list[int], list[int]]:
    """Three runs per engagement, engagements shared out over groups with `effects`."""
    rng = random.Random(seed)
    x, w, g, j = [], [], [], []
    for inst in range(engagements):
        group = inst % len(effects)
        hard = rng.gauss(0, 0.15)  # the engagement as a whole
        for _ in range(3):
            x.append(effects[group] + hard + rng.gauss(0, 0.35))
            w.append(1.0)
            g.append(group)
            j.append(inst)
    return x, w, g, j


def test_groups_alike_shrink_the_spread_groups_apart_keep_it() -> None:
    alike = [group_spread(*_groups([0.0] * 5, 60, s), 0.3, 2.0, (0.2, 1.0)) for s in range(8)]
    apart = [
        group_spread(*_groups([-0.5, -0.2, 0.0, 0.3, 0.6], 60, s), 0.3, 2.0, (0.2, 1.0))
        for s in range(8)
    ]
    assert sorted(alike)[4] < 0.22  # the median: well below the fixed 0.3
    assert min(apart) == 0.3  # kept at the cap: never looser than the fixed spread


def test_one_group_or_little_data_keeps_the_fixed_spread() -> None:
    assert group_spread(*_groups([0.4], 30, 1), 0.3, 2.0, (0.2, 1.0)) == 0.3
    # One engagement per group: no group's own noise to read, the spread stays in bounds.
    x, w, g, j = _groups([0.0, 0.1], 2, 3)
    assert 0.06 <= group_spread(x, w, g, j, 0.3, 2.0, (0.2, 1.0)) <= 0.3
    # Runs of no group are not a group.
    none: list[int | None] = [None] * len(g)
    assert group_spread(x, w, none, j, 0.3, 2.0, (0.2, 1.0)) == 0.3


def test_clients_at_one_pace_are_planned_closer_to_it_than_with_fixed_spreads() -> None:
    """Three clients at the same pace, noisy runs: each client's own estimate wanders
    less from the shared pace once the spread is read from the runs."""
    fixed = replace(DEFAULT, spread_prior_groups=None)
    wander = {"read": 0.0, "fixed": 0.0}
    for seed in range(6):
        history = [
            r
            for c in (1, 2, 3)
            for r in runs(
                1.2, client=c, weeks=8, noise=0.35, seed=10 * seed + c, first_instance=100 * c
            )
        ]
        for label, p in (("read", DEFAULT), ("fixed", fixed)):
            f = fit_workflow(7, history, p)
            wander[label] += sum(
                math.log(predict(f, "audit", c, p).ratio / 1.2) ** 2 for c in (1, 2, 3)
            )
    assert wander["read"] < wander["fixed"]
