"""Change-point detection on log ratios: has a pace really shifted, or is it noise? (pure)

The unit is the *instance* (one engagement's tasks averaged), not the task: tasks done in
the same week for the same client move together, so counting them as independent would
see shifts in ordinary noise. The noise of instance means is measured from successive
differences (robust to the very level shift being looked for), and a split is accepted
only when the shift is both significant (a two-sample z above `z`) and large enough to
matter (at least `min_shift` in log ratio, about 10%).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True, slots=True)
class Point:
    """One instance: when it ended (days, any origin), its mean residual, how many tasks."""

    day: float
    value: float
    tasks: int


@dataclass(frozen=True, slots=True)
class Shift:
    day: float  # the first instance of the new pace
    size: float  # mean after minus mean before (log ratio)
    z: float


def instance_sigma(points: Sequence[Point], prior: float, prior_n: float = 4.0) -> float:
    """Noise of one instance mean: from successive differences (level shifts barely count),
    pooled with `prior` as if it were `prior_n` differences (a few differences are noisy)."""
    values = [p.value for p in sorted(points, key=lambda p: p.day)]
    diffs = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    if not diffs:
        return prior
    s = MAD_TO_SIGMA * median(diffs) / math.sqrt(2)
    n = len(diffs)
    return math.sqrt((n * s * s + prior_n * prior * prior) / (n + prior_n))


def huber_mean(values: Sequence[float], scale: float, k: float = 1.5) -> float:
    """A location estimate that gives values beyond `k` scales from it bounded pull."""
    m = median(values)
    limit = k * scale
    for _ in range(10):
        clipped = [m + max(-limit, min(limit, v - m)) for v in values]
        m = sum(clipped) / len(clipped)
    return m


def detect(
    points: Sequence[Point],
    *,
    sigma: float,
    z: float = 3.5,
    min_shift: float = 0.1,
    min_after: int = 1,
    min_before: int = 3,
    horizon_days: float = 182.0,
    single_extra_z: float = 1.0,
) -> Shift | None:
    """The most significant recent level shift in `points`, or None.

    Candidate splits lie within `horizon_days` of the newest point, with at least
    `min_after` instances after (a single one needs `single_extra_z` more) and
    `min_before` before. Each side's level is a Huber mean, so one odd engagement cannot
    fake a shift.
    """
    ordered = sorted(points, key=lambda p: p.day)
    if len(ordered) < min_after + min_before or sigma <= 0:
        return None
    newest = ordered[-1].day
    best: Shift | None = None
    best_plain = 0.0
    for cut in range(min_before, len(ordered) - min_after + 1):
        if ordered[cut].day == ordered[cut - 1].day:
            continue  # instances finishing the same day cannot be told apart in time
        if newest - ordered[cut].day > horizon_days:
            continue
        before, after = ordered[:cut], ordered[cut:]
        m0 = huber_mean([p.value for p in before], sigma)
        m1 = huber_mean([p.value for p in after], sigma)
        se = sigma * math.sqrt(1 / len(before) + 1 / len(after))
        stat = abs(m1 - m0) / se
        # One engagement alone must be far out to count: a shift seen once could be a
        # hard engagement; the next one confirms it (or the split disappears again).
        need = z + (single_extra_z if len(after) == 1 else 0.0)
        if stat < need or abs(m1 - m0) < min_shift:
            continue
        # Accepted on robust means; placed where the plain means split best (robust
        # means blur where a step is, since they shrug off the first point of a new pace).
        plain = abs(_mean(after) - _mean(before)) / se
        if best is None or plain > best_plain:
            best, best_plain = Shift(ordered[cut].day, m1 - m0, stat), plain
    return best


def _mean(points: Sequence[Point]) -> float:
    return sum(p.value for p in points) / len(points)


CLIP = 3.0  # task residuals are clipped (Huber) at this many sigmas before averaging


def shifts(
    instances: Sequence[int],
    v: Sequence[float],
    days: Sequence[float],
    sigma: float,
    z: float,
    min_shift: float,
) -> list[float]:
    """The day (in `days`' scale) each shift in the task residuals `v` began, oldest first;
    the last began the newest regime (binary segmentation towards the present, on clipped
    engagement means)."""
    by_instance: dict[int, list[int]] = defaultdict(list)
    for i, instance in enumerate(instances):
        by_instance[instance].append(i)
    centre = median(v)
    clip = CLIP * sigma
    points = [
        Point(
            day=max(days[i] for i in idx),
            value=sum(max(centre - clip, min(centre + clip, v[i])) for i in idx) / len(idx),
            tasks=len(idx),
        )
        for idx in by_instance.values()
    ]
    mean_tasks = sum(pt.tasks for pt in points) / max(1, len(points))
    prior = sigma / math.sqrt(max(1.0, mean_tasks))
    start: float | None = None
    found: list[float] = []
    for _ in range(4):
        current = [pt for pt in points if start is None or pt.day >= start]
        shift = detect(current, sigma=instance_sigma(current, prior), z=z, min_shift=min_shift)
        if shift is None:
            break
        start = shift.day
        found.append(shift.day)
    return found
