"""Estimates that learn from history: a pure function from past runs to adjusted estimates.

A task's estimate changes only when its past runs *consistently* ran over or under: at
least `min_runs` of them, a typical actual/estimate ratio at least `threshold` away from 1,
and most runs on the same side. Otherwise the workflow's overall ratio is used when it is
consistent. Ratios are clamped so a few disasters cannot triple a plan.

The typical ratio is the geometric mean (durations err multiplicatively), trimmed of the
extremes once there are five runs. A task's own ratio is blended with the workflow's, as
if the workflow's counted for `PRIOR_RUNS` runs: a few noisy runs of one task should not
outweigh what the whole workflow shows (measured in bench/learning_loop.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from almanac.ontology.sop import SOP
from almanac.planner.schemas import Calibration

PRIOR_RUNS = 3


@dataclass(frozen=True, slots=True)
class Ratio:
    value: float
    runs: int
    blended: bool = False


def typical(ratios: list[float]) -> float:
    """The geometric mean of `ratios`, without the highest and lowest from five on."""
    ordered = sorted(r for r in ratios if r > 0)
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    return math.exp(sum(math.log(r) for r in ordered) / len(ordered))


def _consistent(ratios: list[float], min_runs: int, threshold: float) -> Ratio | None:
    if len(ratios) < min_runs or not any(r > 0 for r in ratios):
        return None
    mid = typical(ratios)
    if abs(mid - 1) < threshold:
        return None
    same_side = sum(1 for r in ratios if (r > 1) == (mid > 1) and r != 1)
    if same_side < 0.7 * len(ratios):
        return None
    return Ratio(mid, len(ratios))


History = tuple[str, float, float, int]  # task key, estimated, actual, engagement


def learn_ratios(
    history: Iterable[History], *, min_runs: int = 3, threshold: float = 0.1
) -> tuple[dict[str, Ratio], Ratio | None]:
    """Per task key and for the whole workflow: consistent actual/estimate ratios.

    `engagement` identifies the past instance (process template) a row came from: the
    workflow-wide ratio needs at least two, since one engagement is one data point.
    """
    per_task: dict[str, list[float]] = defaultdict(list)
    everything: list[float] = []
    engagements: set[int] = set()
    for key, estimated, actual, engagement in history:
        if estimated <= 0 or actual < 0:
            continue
        ratio = actual / estimated
        per_task[key].append(ratio)
        everything.append(ratio)
        engagements.add(engagement)
    tasks = {
        key: r
        for key, ratios in per_task.items()
        if (r := _consistent(ratios, min_runs, threshold)) is not None
    }
    # One task running over says little about the others: the workflow-wide ratio needs
    # history from at least two different tasks.
    enough = len(per_task) >= 2 and len(engagements) >= 2
    overall = _consistent(everything, min_runs, threshold) if enough else None
    if overall is not None:
        tasks = {key: _blend(r, overall) for key, r in tasks.items()}
    return tasks, overall


def _blend(own: Ratio, overall: Ratio) -> Ratio:
    weight = own.runs / (own.runs + PRIOR_RUNS)
    value = math.exp(weight * math.log(own.value) + (1 - weight) * math.log(overall.value))
    return Ratio(value, own.runs, blended=True)


def _round_hours(hours: float) -> float:
    # Three-minute steps: quarter hours distort the many short tasks by up to a quarter
    # (0.25 h x 1.25 = 0.31 h); the scheduler rounds up to its slots anyway.
    return max(0.05, round(hours * 20) / 20)


def calibrate(
    sop: SOP,
    history: Iterable[History],
    *,
    key_of: dict[str, str] | None = None,
    min_runs: int = 3,
    threshold: float = 0.1,
    clamp: tuple[float, float] = (0.5, 2.0),
) -> tuple[SOP, list[Calibration]]:
    """Adjust `sop`'s estimates from `history` rows (task key, estimated, actual, engagement).

    `key_of` maps a plan task id to the workflow task key it came from (they differ when a
    blueprint prefixes ids); by default a task's id is its key.
    """
    per_task, overall = learn_ratios(history, min_runs=min_runs, threshold=threshold)
    if not per_task and overall is None:
        return sop, []
    low, high = clamp
    changes: list[Calibration] = []
    steps = []
    for step in sop.steps:
        tasks = []
        for task in step.tasks:
            key = (key_of or {}).get(task.id, task.id)
            ratio = per_task.get(key)
            basis: Literal["task", "workflow"] = "task"
            if ratio is None and overall is not None:
                ratio, basis = overall, "workflow"
            if ratio is None:
                tasks.append(task)
                continue
            applied = min(high, max(low, ratio.value))
            new_hours = _round_hours(task.estimate_hours * applied)
            if new_hours == task.estimate_hours:
                tasks.append(task)
                continue
            direction = "longer" if ratio.value > 1 else "shorter"
            scope = "this task" if basis == "task" else "this workflow's tasks"
            clamped = " (capped)" if applied != ratio.value else ""
            if ratio.blended:
                clamped += ", weighed with the whole workflow's runs"
            changes.append(
                Calibration(
                    task_id=task.id,
                    from_hours=task.estimate_hours,
                    to_hours=new_hours,
                    ratio=round(applied, 3),
                    runs=ratio.runs,
                    basis=basis,
                    reason=(
                        f"in {ratio.runs} past runs {scope} took {abs(ratio.value - 1):.0%} "
                        f"{direction} than estimated (typical ratio){clamped}"
                    ),
                )
            )
            tasks.append(task.model_copy(update={"estimate_hours": new_hours}))
        steps.append(step.model_copy(update={"tasks": tasks}))
    return sop.model_copy(update={"steps": steps}), changes
