"""How far clients and tasks really differ, read from a workflow's own runs (pure).

The ridge fit of planner/calibration.py shrinks each client and task effect towards the
library by σ²/τ². With a fixed τ, a workflow whose clients all work at much the same pace
still lets each client's level wander with its own sampling error. Here τ is an
empirical-Bayes estimate: the spread of the groups' raw means (what each would be
unshrunk) less the part their sampling error explains (method of moments), pooled with
the fixed τ as a prior worth `prior_groups` groups and kept within [floor, cap]·τ, so a
workflow with few clients or tasks is fitted much as with the fixed spreads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

from almanac.planner.params import Params


def client_and_task(
    y: Sequence[float],
    w: Sequence[float],
    effects: tuple[float, dict[int, float], dict[str, float]],
    clients: Sequence[int | None],
    tasks: Sequence[str],
    instances: Sequence[int],
    p: Params,
) -> list[float]:
    """[τ client, τ task] from log ratios `y` (less any steps) and a fit's effects."""
    a, b, d = effects
    if p.spread_prior_groups is None:
        return [p.tau_client, p.tau_task]
    own = [b.get(c, 0.0) if c is not None else 0.0 for c in clients]
    return [
        group_spread(
            [yi - a - d.get(t, 0.0) for yi, t in zip(y, tasks, strict=True)],
            w,
            clients,
            instances,
            p.tau_client,
            p.spread_prior_groups,
            p.spread_bounds,
        ),
        group_spread(
            [yi - a - o for yi, o in zip(y, own, strict=True)],
            w,
            tasks,
            instances,
            p.tau_task,
            p.spread_prior_groups,
            p.spread_bounds,
        ),
    ]


def group_spread(
    partial: Sequence[float],
    weights: Sequence[float],
    groups: Sequence[Hashable | None],
    instances: Sequence[int],
    tau: float,
    prior_groups: float,
    bounds: tuple[float, float],
) -> float:
    """τ for one kind of effect. `partial[i]` is run i's log ratio less every other
    effect (what its group's effect should explain); runs of group None are skipped.

    A group's sampling variance is taken over its engagements (clustered): runs of one
    engagement that ran hard together are one piece of evidence, not several.
    """
    num: dict[Hashable, float] = defaultdict(float)
    den: dict[Hashable, float] = defaultdict(float)
    for x, w, g in zip(partial, weights, groups, strict=True):
        if g is not None and w > 0:
            num[g] += w * x
            den[g] += w
    means = {g: num[g] / den[g] for g in num if den[g] > 0}
    if len(means) < 2:
        return tau
    # Clustered variance of each group's weighted mean: sum over engagements of
    # (sum of w * residual)^2, over (sum of w)^2.
    cluster: dict[tuple[Hashable, int], float] = defaultdict(float)
    for x, w, g, j in zip(partial, weights, groups, instances, strict=True):
        if g in means:
            cluster[(g, j)] += w * (x - means[g])
    var: dict[Hashable, float] = defaultdict(float)
    n: dict[Hashable, int] = defaultdict(int)
    for (g, _), s in cluster.items():
        var[g] += s * s
        n[g] += 1
    # A group of one engagement has no spread of its own to read: n / (n - 1) corrects
    # the clustered variance's downward bias, a group of one borrows the others' mean.
    own = {g: var[g] / den[g] ** 2 * n[g] / (n[g] - 1) for g in means if n[g] > 1}
    fallback = sum(own.values()) / len(own) if own else tau * tau
    centre = sum(means.values()) / len(means)
    between = sum((m - centre) ** 2 for m in means.values()) / (len(means) - 1)
    noise = sum(own.get(g, fallback) for g in means) / len(means)
    df = len(means) - 1
    tau2 = (prior_groups * tau * tau + df * (between - noise)) / (prior_groups + df)
    low, high = bounds
    return min(high * tau, max(low * tau, tau2**0.5 if tau2 > 0 else 0.0))
