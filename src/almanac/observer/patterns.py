"""Per-workflow patterns from run history: pure functions, no database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from statistics import mean
from typing import Any

from pydantic import ValidationError

from almanac.observer.report import RunRow, Sample, samples
from almanac.observer.schemas import PatternOut, Trend
from almanac.ontology.sop import SOP
from almanac.planner.calibration import History, calibrate

TREND_POINTS = 5.0  # a change in mean |variance| smaller than this is "stable"


def workflow_estimate(steps: Sequence[Any]) -> float | None:
    """The sum of a workflow's task estimates (None when it has none)."""
    total = 0.0
    found = False
    for step in steps:
        for task in step.get("tasks", []) if isinstance(step, dict) else []:
            hours = task.get("estimate_hours") if isinstance(task, dict) else None
            if isinstance(hours, int | float) and hours > 0:
                total += float(hours)
                found = True
    return round(total, 2) if found else None


def calibrated_estimate(
    name: str,
    steps: Sequence[Any],
    history: Iterable[History],
    *,
    min_runs: int,
    threshold: float,
) -> float | None:
    """The workflow's estimate after the planner's own calibration (planner/calibration.py),
    applied to the workflow as an SOP; None when its steps do not form a valid SOP."""
    try:
        sop = SOP.model_validate({"title": name[:500] or "workflow", "steps": list(steps)})
    except ValidationError:
        return None
    calibrated, _ = calibrate(sop, history, min_runs=min_runs, threshold=threshold)
    return round(calibrated.total_hours(), 2)


def _trend(recent: list[Sample], earlier: list[Sample]) -> Trend:
    if not recent or not earlier:
        return "unknown"
    change = abs(mean(s.variance_pct for s in recent)) - abs(mean(s.variance_pct for s in earlier))
    if change > TREND_POINTS:
        return "worsening"
    if change < -TREND_POINTS:
        return "improving"
    return "stable"


def patterns(
    runs: Iterable[RunRow],
    workflows: dict[int, tuple[str, float | None, float | None]],
    *,
    window: int = 4,
) -> list[PatternOut]:
    """Per workflow (name, current, suggested estimate): runs, variance, trend, hours."""
    by_workflow: dict[int, list[Sample]] = defaultdict(list)
    for s in samples(runs):
        if s.key[1] is None:
            by_workflow[s.key[0]].append(s)
    out = []
    for wid, (name, current, suggested) in sorted(workflows.items()):
        runs_ = by_workflow.get(wid, [])
        recent, earlier = runs_[-window:], runs_[:-window]
        out.append(
            PatternOut(
                workflow_id=wid,
                workflow=name,
                runs=len(runs_),
                mean_variance_pct=_mean([s.variance_pct for s in runs_], 1),
                trend=_trend(recent, earlier),
                recent_variance_pct=_mean([s.variance_pct for s in recent], 1),
                earlier_variance_pct=_mean([s.variance_pct for s in earlier], 1),
                mean_actual_hours=_mean([s.actual for s in runs_], 2),
                current_estimate_hours=current,
                suggested_estimate_hours=suggested,
            )
        )
    return out


def _mean(values: list[float], digits: int) -> float | None:
    return round(mean(values), digits) if values else None
