"""A client's own pace, followed through change (pure; used by planner/calibration.py).

Each engagement of a client gives one noisy reading of the client's effect: the mean of
what the workflow and task effects leave of its tasks' log ratios, outliers damped. Its
noise is the engagement-wide spread (whole engagements run hard or easy) plus the task
noise over its tasks, inflated for old or pre-change readings by their decay. Bayesian
change-point detection over those readings (planner/change.py) says whether the client's
pace moved and from which engagement: runs before that count as another client (their
own effect), so they neither pull the new pace back nor bend the workflow's level, and
the client's current level is the posterior mix of regimes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from almanac.planner.change import MAD_TO_SIGMA, Level, current_level

Label = int | None


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    value: float
    var: float
    runs: tuple[int, ...]  # the engagement's runs (indices)


def old_regime(client: int) -> int:
    """The label of a client's runs before its current pace (client ids are positive)."""
    return -client


def engagement_variance(
    instances: Sequence[Sequence[int]],
    residual: Callable[[int], float],
    huber: Sequence[float],
    keep: Sequence[float],
    task_var: float,
    prior_sd: float,
    prior_n: float = 4.0,
) -> float:
    """The engagement-wide variance: the robust spread (MAD) of current engagements' mean
    residuals minus the task noise they carry, pooled with a prior worth `prior_n`
    engagements. Robust, so a client whose pace just moved does not pass for noise."""
    means, sizes = [], []
    for idx in instances:
        if min(keep[i] for i in idx) < 0.25:
            continue
        w = sum(huber[i] for i in idx)
        if w <= 0:
            continue
        means.append(sum(huber[i] * residual(i) for i in idx) / w)
        sizes.append(len(idx))
    if not means:
        return prior_sd**2
    centre = median(means)
    spread = (MAD_TO_SIGMA * median(abs(m - centre) for m in means)) ** 2
    excess = max(0.0, spread - task_var / median(sizes))
    n = len(means)
    return (n * excess + prior_n * prior_sd**2) / (n + prior_n)


def readings(
    instances: Sequence[Sequence[int]],
    labels: Sequence[Label],
    ats: Sequence[datetime],
    partial: Callable[[int], float],
    huber: Sequence[float],
    keep: Sequence[float],
    engagement_var: float,
    task_var: float,
) -> dict[int, list[Reading]]:
    """Per client label, its engagements' readings of the client effect, oldest first.

    `partial(i)` is run i's log ratio minus the workflow and task effects; `keep` the
    decay (and change) factor of each run.
    """
    out: dict[int, list[Reading]] = defaultdict(list)
    for idx in instances:
        label = labels[idx[0]]
        w = sum(huber[i] for i in idx)
        if label is None or w <= 0:
            continue
        x = sum(huber[i] * partial(i) for i in idx) / w
        k = max(1e-3, sum(keep[i] for i in idx) / len(idx))
        var = (engagement_var + task_var / w) / k
        out[label].append(Reading(max(ats[i] for i in idx), x, var, tuple(idx)))
    for series in out.values():
        series.sort(key=lambda r: r.at)
    return dict(out)


def level(series: Sequence[Reading], prior_var: float, hazard: float) -> Level:
    return current_level(
        [r.value for r in series], [r.var for r in series], prior_var=prior_var, hazard=hazard
    )


def split_regimes(
    series: dict[int, list[Reading]],
    labels: Sequence[Label],
    prior_var: float,
    hazard: float,
) -> tuple[list[Label], dict[int, datetime]]:
    """Relabel runs before a client's probable change of pace; the change dates."""
    new = list(labels)
    changes: dict[int, datetime] = {}
    for client, points in series.items():
        if client <= 0:
            continue
        found = level(points, prior_var, hazard)
        if found.start is None or found.shifted <= 0.5:
            continue
        changes[client] = points[found.start].at
        for reading in points[: found.start]:
            for i in reading.runs:
                new[i] = old_regime(client)
    return new, changes
