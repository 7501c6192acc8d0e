"""Per-workflow patterns from run history: pure functions, no database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from statistics import mean
from typing import Any

from almanac.observer.report import Sample, samples
from almanac.observer.rows import RunRow, WorkflowInfo
from almanac.observer.schemas import ClientEstimate, PatternOut, Trend

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
    workflows: dict[int, WorkflowInfo],
    *,
    window: int = 4,
) -> list[PatternOut]:
    """Per workflow: runs, variance against the library, trend, hours, and the planner's
    estimate (for no client in particular and per client)."""
    by_workflow: dict[int, list[Sample]] = defaultdict(list)
    for s in samples(runs):
        if s.key[1] is None:
            by_workflow[s.key[0]].append(s)
    out = []
    for wid, info in sorted(workflows.items()):
        runs_ = by_workflow.get(wid, [])
        recent, earlier = runs_[-window:], runs_[:-window]
        out.append(
            PatternOut(
                workflow_id=wid,
                workflow=info.name,
                runs=len(runs_),
                mean_variance_pct=_mean([s.variance_pct for s in runs_], 1),
                trend=_trend(recent, earlier),
                recent_variance_pct=_mean([s.variance_pct for s in recent], 1),
                earlier_variance_pct=_mean([s.variance_pct for s in earlier], 1),
                mean_estimated_hours=_mean([s.estimated for s in runs_], 2),
                mean_actual_hours=_mean([s.actual for s in runs_], 2),
                current_estimate_hours=info.estimate_hours,
                suggested_estimate_hours=info.suggested_hours,
                client_estimates=[
                    ClientEstimate(client_id=c, runs=n, suggested_hours=h)
                    for c, (n, h) in sorted(info.clients.items())
                ],
                estimate_basis=dict(info.basis),
            )
        )
    return out


def _mean(values: list[float], digits: int) -> float | None:
    return round(mean(values), digits) if values else None
