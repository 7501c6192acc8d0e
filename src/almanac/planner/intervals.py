"""How wide an estimate's 80% interval is: from held-out residuals (pure).

In-sample residuals are too small: each engagement's runs pulled the client and task
effects towards themselves. The residual a run would have had were its engagement left
out of the fit is, for a ridge fit of group means, its own residual plus the engagement's
mean residual scaled by its leverage h/(1-h) on the client (or workflow) effect, and
divided by (1-h) for its leverage on its task effect. The interval is the central 80% of
those held-out residuals (heavy tails and whole engagements running hard count as they
come), pooled with the prior for small samples; no normal quantile is assumed. Where
enough plans rested on history, the central 80% of the errors they really made (an
online conformal reading) is the other estimate; calibration.py takes the middle. Both
take their quantiles with the split-conformal finite-sample correction (`_tail`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

Z80 = 1.2816


def held_out(
    residuals: Sequence[float],
    weights: Sequence[float],
    client_weights: Sequence[float],
    instances: Sequence[int],
    groups: Sequence[Hashable],
    tasks: Sequence[str],
    k_group: float,
    k_task: float,
) -> list[float]:
    """Leave-one-engagement-out residuals. `groups[i]` is run i's client label (or one
    shared label for runs with no client); `k_*` the ridge penalties."""
    group_w: dict[Hashable, float] = defaultdict(float)
    task_w: dict[str, float] = defaultdict(float)
    inst_w: dict[int, float] = defaultdict(float)
    inst_cw: dict[int, float] = defaultdict(float)
    inst_r: dict[int, float] = defaultdict(float)
    for r, w, cw, j, g, t in zip(
        residuals, weights, client_weights, instances, groups, tasks, strict=True
    ):
        group_w[g] += cw
        task_w[t] += w
        inst_w[j] += w
        inst_cw[j] += cw
        inst_r[j] += w * r
    out = []
    for r, w, j, g, t in zip(residuals, weights, instances, groups, tasks, strict=True):
        h_task = min(0.9, w / (task_w[t] + k_task))
        h_inst = min(0.9, inst_cw[j] / (group_w[g] + k_group))
        mean_j = inst_r[j] / inst_w[j] if inst_w[j] > 0 else 0.0
        out.append(r / (1 - h_task) + mean_j * h_inst / (1 - h_inst))
    return out


def spread(values: Sequence[float], prior_sd: float, prior_n: float) -> tuple[float, float]:
    """(lower, upper) half-widths of the central 80% of `values`, pooled with a normal
    prior of sd `prior_sd` worth `prior_n` values."""
    ordered = sorted(values)
    n = len(ordered)
    if n < 5:
        return Z80 * prior_sd, Z80 * prior_sd
    tail = _tail(n)
    q10 = ordered[int(tail * (n - 1))]
    q90 = ordered[int((1 - tail) * (n - 1))]
    prior = Z80 * prior_sd

    def pool(h: float) -> float:
        return float(((n * h * h + prior_n * prior * prior) / (n + prior_n)) ** 0.5)

    return pool(max(0.0, -q10)), pool(max(0.0, q90))


def weighted_spread(
    errors: Sequence[tuple[float, float]], prior_sd: float, prior_n: float
) -> tuple[float, float]:
    """(lower, upper) half-widths from (error, weight) pairs, errors = log(actual /
    planned): their weighted 10th and 90th percentiles (a plan that ran systematically
    short shows in an interval reaching further up), each pooled with the prior by the
    effective number of errors."""
    total = sum(w for _, w in errors)
    if total <= 0:
        return Z80 * prior_sd, Z80 * prior_sd
    # Kish's effective n, scale-free: the squares of tiny (centuries-old) weights underflow.
    top = max(w for _, w in errors)
    n = (total / top) ** 2 / sum((w / top) ** 2 for _, w in errors)
    ordered = sorted(errors)

    def quantile(q: float) -> float:
        seen = 0.0
        for e, w in ordered:
            seen += w
            if seen >= q * total:
                return e
        return ordered[-1][0]

    prior = Z80 * prior_sd

    def pool(h: float) -> float:
        return float(((n * h * h + prior_n * prior * prior) / (n + prior_n)) ** 0.5)

    tail = _tail(n)
    return pool(max(0.0, -quantile(tail))), pool(max(0.0, quantile(1 - tail)))


def _tail(n: float) -> float:
    """Each tail's share for an 80% interval from `n` (effective) values: split-conformal,
    the ceil((n+1)·0.9)-th of n errors bounds the next one at least 90% of the time, so
    few errors widen the interval rather than under-cover (noisy worlds fell to 78%)."""
    return max(0.0, 1 - 0.9 * (n + 1) / n) if n > 0 else 0.1


def middle(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
