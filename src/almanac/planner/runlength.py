"""Has a pace changed, and since when? A posterior over the current run length (pure).

Bayesian online change-point detection (Adams & MacKay 2007) over *engagements*: each
engagement's tasks for one client share its pace, so the engagement is the unit of
evidence. Its value is a robust (Huber) mean of its tasks' log residuals, with variance
sigma_engagement^2 + sigma_task^2 / n_tasks: a shift shared by all of an engagement's tasks
is far stronger evidence than one task far out, which the Huber mean barely feels.

Each segment of constant pace has a mean drawn from N(m0, tau^2); a new segment starts
before any engagement with probability `hazard` (chosen a priori: about one change in 20
engagements, not fitted). An engagement may also be a stray one (`STRAY`, 3%, with
`STRAY_SD` of extra spread): it then barely moves its segment's mean, and it bounds how
much one engagement alone can say (3% was chosen on the training seeds 100-117: 0 cost
the noisy world most, 0.1 gave up most of the recoveries). The answer is the posterior
over how many of the newest engagements share the current pace, which the estimator
turns into a soft move: followed in proportion to the evidence for it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from almanac.planner.change import MAD_TO_SIGMA, huber_mean

HAZARD = 1 / 20
STRAY = 0.03
STRAY_SD = 0.6


@dataclass(frozen=True, slots=True)
class Engagement:
    """One engagement: when it ended (days, any origin), its tasks' log residuals."""

    day: float
    residuals: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Prior:
    """What is believed before the data: a change's chance per engagement, the spread of a
    new pace's level, and the least probability worth acting on."""

    hazard: float = HAZARD
    spread: float = 0.5
    act_from: float = 0.5


@dataclass(frozen=True, slots=True)
class Change:
    """The newest change found: the first day of the new pace and how sure it is."""

    day: float
    probability: float


def noise(groups: Sequence[Sequence[Engagement]], prior: float) -> tuple[float, float]:
    """(sd of one task around its engagement's level, sd of engagements' levels around
    their segment's), from groups of engagements that share a level but for change (one
    client's): robust, each pooled with a prior worth a few observations."""
    engagements = [e for g in groups for e in g if e.residuals]
    within = [
        r - median(e.residuals) for e in engagements if len(e.residuals) > 1 for r in e.residuals
    ]
    sizes = [len(e.residuals) for e in engagements if len(e.residuals) > 1]
    if within:
        n_mean = sum(sizes) / len(sizes)
        # Deviations from a sample median understate the spread by about (n-1)/n.
        s = MAD_TO_SIGMA * median(abs(d) for d in within) * math.sqrt(n_mean / (n_mean - 1))
        task = math.sqrt((len(within) * s * s + 10 * prior * prior) / (len(within) + 10))
    else:
        task = prior
    # Successive differences within a group: a level shift is one difference among many.
    diffs = []
    for g in groups:
        levels = [_level(e, task) for e in sorted(g, key=lambda e: e.day) if e.residuals]
        diffs += [abs(b - a) for a, b in zip(levels, levels[1:], strict=False)]
    n_tasks = sum(len(e.residuals) for e in engagements) / max(1, len(engagements))
    between_prior = 0.1  # engagements running hard or easy as a whole: ~10% is ordinary
    if len(diffs) >= 2:
        total = (MAD_TO_SIGMA * median(diffs)) ** 2 / 2  # successive differences: 2 var
        s2 = max(0.0, total - task * task / n_tasks)
        n = len(diffs)
        between = math.sqrt((n * s2 + 4 * between_prior**2) / (n + 4))
    else:
        between = between_prior
    return task, max(0.03, between)


def _level(e: Engagement, task_sd: float) -> float:
    return huber_mean(e.residuals, task_sd) if len(e.residuals) > 1 else e.residuals[0]


def _posterior(
    engagements: Sequence[Engagement],
    task_sd: float,
    between_sd: float,
    tau: float,
    hazard: float,
) -> tuple[list[float], list[float]]:
    """Run-length probabilities (index r: the newest r + 1 engagements share a pace) and
    each current segment's posterior mean level."""
    ordered = sorted((e for e in engagements if e.residuals), key=lambda e: e.day)
    if not ordered:
        return [], []
    xs = [_level(e, task_sd) for e in ordered]
    vs = [between_sd**2 + task_sd**2 / len(e.residuals) for e in ordered]
    m0 = median(xs)
    prior_prec = 1 / (tau * tau)
    probs = [1.0]
    precs = [prior_prec + 1 / vs[0]]
    sums = [m0 * prior_prec + xs[0] / vs[0]]
    for x, v in zip(xs[1:], vs[1:], strict=True):
        fresh = _likelihood(x, m0, tau * tau + v)
        grown = [
            (1 - hazard) * pr * _likelihood(x, s / pc, 1 / pc + v)
            for pr, pc, s in zip(probs, precs, sums, strict=True)
        ]
        probs = [hazard * fresh * sum(probs), *grown]
        total = sum(probs) or 1.0
        probs = [pr / total for pr in probs]
        # A stray engagement moves its segment's mean little: weigh it by how likely it
        # is an ordinary one (an assumed-density step, keeping the update conjugate).
        ws = [_ordinary(x, s / pc, 1 / pc + v) for pc, s in zip(precs, sums, strict=True)]
        precs = [prior_prec + 1 / v, *(pc + w / v for pc, w in zip(precs, ws, strict=True))]
        sums = [m0 * prior_prec + x / v, *(s + w * x / v for s, w in zip(sums, ws, strict=True))]
    return probs, [s / pc for s, pc in zip(sums, precs, strict=True)]


def newest_change(
    engagements: Sequence[Engagement],
    task_sd: float,
    between_sd: float,
    *,
    tau: float = 0.5,
    hazard: float = HAZARD,
) -> tuple[Change | None, list[float]]:
    """The posterior over the run length after the newest engagement, and the newest
    change it points to, if any."""
    ordered = sorted((e for e in engagements if e.residuals), key=lambda e: e.day)
    probs, _ = _posterior(ordered, task_sd, between_sd, tau, hazard)
    if len(probs) < 2:
        return None, probs
    no_change = probs[-1]
    changed = probs[:-1]
    best = max(range(len(changed)), key=lambda r: changed[r])
    first = ordered[len(ordered) - 1 - best]
    return Change(first.day, 1 - no_change), probs


def recent_level(
    engagements: Sequence[Engagement],
    task_sd: float,
    between_sd: float,
    *,
    tau: float = 0.5,
    hazard: float = HAZARD,
) -> tuple[float, float]:
    """(probability of a change, expected current level given a change): the posterior
    mean of each possible current segment, weighed by its run length's probability."""
    probs, means = _posterior(engagements, task_sd, between_sd, tau, hazard)
    changed = probs[:-1]
    p = sum(changed)
    if p <= 0:
        return 0.0, 0.0
    return p, sum(pr * m for pr, m in zip(changed, means, strict=False)) / p


def _normal(x: float, mean: float, var: float) -> float:
    return math.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


def _likelihood(x: float, mean: float, var: float) -> float:
    return (1 - STRAY) * _normal(x, mean, var) + STRAY * _normal(x, mean, var + STRAY_SD**2)


def _ordinary(x: float, mean: float, var: float) -> float:
    plain = (1 - STRAY) * _normal(x, mean, var)
    return plain / (plain + STRAY * _normal(x, mean, var + STRAY_SD**2))


def engagements(
    instances: Sequence[int], v: Sequence[float], days: Sequence[float]
) -> list[Engagement]:
    """Task residuals grouped by engagement, each dated by its last task."""
    by_instance: dict[int, list[int]] = defaultdict(list)
    for i, instance in enumerate(instances):
        by_instance[instance].append(i)
    return [
        Engagement(max(days[i] for i in idx), tuple(v[i] for i in idx))
        for idx in by_instance.values()
    ]


def client_moves(
    clients: Sequence[int | None],
    instances: Sequence[int],
    levels: Sequence[float],
    days: Sequence[float],
    fitted: dict[int, float],
    sigma: float,
    prior: Prior,
    min_shift: float,
) -> dict[int, tuple[float, float | None]]:
    """Per client: how far its level should move (log ratio), and the first day of the
    new pace where that move is at least `min_shift` (else None).

    `levels` are each task's residual plus its client's effect, `fitted` each client's
    fitted level. Where a change is believed (probability p >= `prior.act_from`), the
    level moves by p times the distance to the current pace's posterior mean.
    """
    rows: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(clients):
        if c is not None:
            rows[c].append(i)
    series = {
        c: engagements(
            [instances[i] for i in idx], [levels[i] for i in idx], [days[i] for i in idx]
        )
        for c, idx in rows.items()
    }
    task_sd, between_sd = noise(list(series.values()), sigma)
    out: dict[int, tuple[float, float | None]] = {}
    for c, points in series.items():
        prob, level = recent_level(
            points, task_sd, between_sd, tau=prior.spread, hazard=prior.hazard
        )
        gap = level - fitted.get(c, 0.0)
        if prob < prior.act_from or abs(gap) < min_shift:
            continue
        change, _ = newest_change(
            points, task_sd, between_sd, tau=prior.spread, hazard=prior.hazard
        )
        # Reported as a change only where the move itself is worth a note (>= min_shift).
        worth = change is not None and abs(prob * gap) >= min_shift
        out[c] = (prob * gap, change.day if worth and change is not None else None)
    return out
