"""The one definition of an estimate, shared by the planner, the observer and reflections.

`Estimator.fits` gathers past runs (through `TaskRepository.run_history`) and fits the
model of planner/calibration.py; `apply_estimates` (pure) turns a skeleton SOP into
estimated hours with an 80% interval and a record of how each was made. The baseline is
always the library's estimate: a plan's own (possibly calibrated) figure is never the
yardstick, or a corrected estimate would look "accurate" and the next plan would forget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.ontology.catalog import CatalogRepository
from almanac.ontology.sop import MAX_TASK_HOURS, SOP, stored_sop, stored_step
from almanac.planner.calibration import Estimate, Run, WorkflowFit, by_workflow, predict
from almanac.planner.calibration import library_estimate as prior_estimate
from almanac.planner.fit_cache import FITS
from almanac.planner.hand import hand_note, hand_set
from almanac.planner.params import DEFAULT, Params
from almanac.planner.schemas import Calibration, EstimatesMode, TaskEstimate
from almanac.planner.task_repository import TaskRepository

Origin = Mapping[str, tuple[int, str]]  # plan task id -> (workflow id, workflow task key)


def round_hours(hours: float) -> float:
    """Three-minute steps: quarter hours distort the many short tasks by up to a quarter;
    never past what a task may take (a calibrated 150 h task can come out above it)."""
    return min(MAX_TASK_HOURS, max(0.05, round(hours * 20) / 20))


def library_hours(steps: Any) -> dict[str, float]:
    """A workflow's task estimates by key, from its stored steps (invalid steps: none)."""
    out: dict[str, float] = {}
    for raw in steps or []:
        try:
            step = stored_step(raw)
        except ValidationError:
            continue
        for task in step.tasks:
            out[task.id] = task.estimate_hours
    return out


def interval(hours: float, low: float, high: float) -> tuple[float, float]:
    """An 80% interval as shown: in hundredths but never 0 h for work that takes time, and
    always around the estimate, which is rounded (or held at the task limit) on its own."""
    shown_low = max(0.01, round(low, 2))
    shown_high = max(0.01, round(high, 2))
    return min(shown_low, hours), max(shown_high, hours)


@dataclass(frozen=True, slots=True)
class Applied:
    sop: SOP
    estimates: list[TaskEstimate]
    changes: list[Calibration]
    bounded: list[str] = field(default_factory=list)  # tasks at the 0.2x-5x bound
    held: list[str] = field(default_factory=list)  # tasks held at the task limit


def _note(e: Estimate, mode: EstimatesMode, client_id: int | None, tz: tzinfo) -> str:
    if e.basis == "library":
        return (
            "library estimate (requested)"
            if mode == "library"
            else "library estimate: no completed runs of this workflow yet"
        )
    if e.basis == "client":
        who = f"{e.client_runs} of them for this client"
    elif client_id is None:
        who = "no client named: the typical client's pace"
    else:
        who = "none for this client"
    text = (
        f"{e.ratio:.2f}x the library from {e.runs} past task runs of this workflow ({who}; "
        f"{e.task_runs} of this task), weighted by recency ({e.effective_runs:g} effective)"
    )
    if e.last_run is not None:
        # Days on the user's clock: work ending Friday evening in New York is Saturday in UTC.
        text += f", the latest on {e.last_run.astimezone(tz).date().isoformat()}"
    if e.change_at is not None:
        since = e.change_at.astimezone(tz).date().isoformat()
        text += (
            f"; a change of pace was detected from {since}, "
            "the pace since is read from the runs after it"
        )
    if e.capped:
        text += "; capped at the bound of 0.2x-5x the library"
    return text


def apply_estimates(
    sop: SOP,
    origin: Origin,
    library: Mapping[str, float],
    fits: Mapping[int, WorkflowFit],
    *,
    client_id: int | None,
    mode: EstimatesMode,
    params: Params = DEFAULT,
    tz: tzinfo = UTC,
) -> Applied:
    """Estimate each task of `sop`: from the library (`library`: hours by plan task id) and
    the fitted history of its workflow (`origin`), for `client_id`; the notes' days in `tz`."""
    estimates: list[TaskEstimate] = []
    changes: list[Calibration] = []
    bounded: list[str] = []
    held: list[str] = []
    steps = []
    for step in sop.steps:
        tasks = []
        for task in step.tasks:
            where = origin.get(task.id)
            base = library.get(task.id)
            if where is None or base is None:
                prior = prior_estimate(params)
                low, high = interval(
                    task.estimate_hours,
                    task.estimate_hours * prior.low,
                    task.estimate_hours * prior.high,
                )
                estimates.append(
                    TaskEstimate(
                        task_id=task.id,
                        library_hours=None,
                        hours=task.estimate_hours,
                        low_hours=low,
                        high_hours=high,
                        ratio=1.0,
                        basis="plan",
                        note="not from the library: the plan's own estimate, not calibrated",
                    )
                )
                tasks.append(task)
                continue
            wid, key = where
            e = (
                predict(fits.get(wid), key, client_id, params)
                if mode == "calibrated"
                else prior_estimate(params)
            )
            # No history used: the library's figure as written, not rounded to a step
            # (a plan asking for library estimates gets the library's, 0.33 h not 0.35 h).
            hours = base if e.basis == "library" else round_hours(base * e.ratio)
            low, high = interval(hours, base * e.low, base * e.high)
            note = _note(e, mode, client_id, tz)
            if e.capped:
                bounded.append(task.id)
            if base * e.ratio > MAX_TASK_HOURS:
                note += f"; held at {MAX_TASK_HOURS:g} h, the most one task may take: split it"
                held.append(task.id)
            estimates.append(
                TaskEstimate(
                    task_id=task.id,
                    workflow_id=wid,
                    workflow_task=key,
                    library_hours=base,
                    hours=hours,
                    low_hours=low,
                    high_hours=high,
                    ratio=round(e.ratio, 4),
                    basis=e.basis,
                    runs=e.runs,
                    client_runs=e.client_runs,
                    task_runs=e.task_runs,
                    effective_runs=e.effective_runs,
                    last_run_at=e.last_run,
                    change_detected_at=e.change_at,
                    capped=e.capped or task.id in held,
                    note=note,
                )
            )
            if hours != task.estimate_hours and e.basis != "library":
                changes.append(
                    Calibration(
                        task_id=task.id,
                        from_hours=base,
                        to_hours=hours,
                        ratio=round(e.ratio, 3),
                        runs=e.runs,
                        client_runs=e.client_runs,
                        basis="client" if e.basis == "client" else "workflow",
                        reason=note,
                    )
                )
            tasks.append(task.model_copy(update={"estimate_hours": hours}))
        steps.append(step.model_copy(update={"tasks": tasks}))
    return Applied(sop.model_copy(update={"steps": steps}), estimates, changes, bounded, held)


def _sop_hours(sop: SOP) -> dict[str, float]:
    return {t.id: t.estimate_hours for step in sop.steps for t in step.tasks}


def _by_hand(key: str, hours: float, was: Mapping[str, Any] | None, where: str) -> TaskEstimate:
    """A figure set by hand: the workflow origin and library baseline its runs are measured
    against stay; the interval keeps the earlier one's spread around the new figure."""
    if was is None:
        prior = prior_estimate(DEFAULT)
        low, high = interval(hours, hours * prior.low, hours * prior.high)
    else:
        scale = hours / float(was["hours"]) if was.get("hours") else 1.0
        low, high = interval(hours, float(was["low_hours"]) * scale, was["high_hours"] * scale)
    note = hand_note(where, was)
    library = was.get("library_hours") if was is not None else None
    return TaskEstimate(
        task_id=key,
        workflow_id=was.get("workflow_id") if was is not None else None,
        workflow_task=was.get("workflow_task") if was is not None else None,
        library_hours=library,
        hours=hours,
        low_hours=low,
        high_hours=high,
        ratio=round(hours / library, 6) if library else 1.0,
        basis="hand",
        note=note,
    )


def explained_after_edit(meta: Mapping[str, Any], sop: SOP, version: int) -> dict[str, Any]:
    """A plan's `estimates` and `calibration` after an edit to `sop` (pure): each explains
    the figure the plan now holds. A task whose hours are not those its explanation gives
    (edited), or a new one, is "set by hand"; a removed task's entries and an edited task's
    calibration go. A plan that explained no estimate keeps explaining none."""
    shown = [e for e in meta.get("estimates") or [] if isinstance(e, dict) and "task_id" in e]
    if not shown:
        return {}
    after = _sop_hours(sop)
    by_task = {str(e["task_id"]): e for e in shown}
    changed = {k for k, h in after.items() if k not in by_task or by_task[k].get("hours") != h}
    estimates = [
        _by_hand(k, h, by_task.get(k), f"in version {version}").model_dump(mode="json")
        if k in changed
        else by_task[k]
        for k, h in after.items()
    ]
    calibration = [
        c
        for c in meta.get("calibration") or []
        if isinstance(c, dict) and c.get("task_id") in after and c.get("task_id") not in changed
    ]
    out: dict[str, Any] = {"estimates": estimates, "calibration": calibration}
    kept = meta.get("hand_set")
    gone = set(kept if isinstance(kept, dict) else ()) - set(after)
    if changed or gone:  # the notes stop saying these figures came from history (or hand)
        olds = {k: by_task[k].get("hours") if k in by_task else None for k in changed}
        out |= hand_set({**meta, **out}, {k: (olds[k], after[k]) for k in changed}, meta)
    return out


def explained_after_task_edit(
    meta: Mapping[str, Any], key: str, was: float | None, hours: float, task_id: int
) -> dict[str, Any]:
    """A plan's `estimates`, `calibration` and notes after its task `key` (row `task_id`)
    was given `hours` by hand (pure); {} when the plan explained no estimate of it."""
    shown = [e for e in meta.get("estimates") or [] if isinstance(e, dict) and "task_id" in e]
    entry = next((e for e in shown if str(e["task_id"]) == key), None)
    if entry is None or entry.get("hours") == hours:
        return {}
    new = _by_hand(key, hours, entry, f"on task {task_id}").model_dump(mode="json")
    estimates = [new if e is entry else e for e in shown]
    calibration = [
        c for c in meta.get("calibration") or [] if isinstance(c, dict) and c.get("task_id") != key
    ]
    out: dict[str, Any] = {"estimates": estimates, "calibration": calibration}
    return out | hand_set({**meta, **out}, {key: (was, hours)}, meta)


class Estimator:
    """Past runs → fitted workflows, over the caller's session (never commits)."""

    def __init__(self, session: AsyncSession, params: Params, *, min_runs: int = 1) -> None:
        self.tasks = TaskRepository(session)
        self.catalog = CatalogRepository(session)
        self.params = params
        self.min_runs = min_runs

    async def fits(
        self, workflow_ids: Sequence[int], steps: Mapping[int, Any] | None = None
    ) -> dict[int, WorkflowFit]:
        """Fits for `workflow_ids`; `steps` (workflow id → stored steps) saves a read.

        Runs recorded before tasks carried their library estimate are measured against
        the workflow's current one, else against what their plan said.
        """
        if not workflow_ids:
            return {}
        rows = await self.tasks.run_history(workflow_ids)
        if not rows:
            return {}
        if steps is None:
            steps = {w.id: w.steps for w in (await self.catalog.workflows(workflow_ids)).values()}
        current = {wid: library_hours(s) for wid, s in steps.items()}
        runs: list[Run] = []
        for r in rows:
            base = r.library_hours or current.get(r.workflow_id, {}).get(r.key) or r.estimated_hours
            if base is None or base <= 0:
                continue
            runs.append(
                Run(
                    r.workflow_id,
                    r.key,
                    r.client_id,
                    base,
                    r.actual_hours,
                    r.at,
                    r.instance,
                    planned_hours=r.estimated_hours,
                )
            )
        fitted = {
            wid: await FITS.fit_async(wid, rows, self.params)
            for wid, rows in by_workflow(runs).items()
        }
        return {wid: f for wid, f in fitted.items() if f.support.runs >= self.min_runs}


def params_from(half_life_days: float) -> Params:
    """The estimator's parameters from settings."""
    return replace(DEFAULT, half_life_days=half_life_days)


def workflow_sop(name: str, steps: Any) -> SOP | None:
    """A workflow's steps as an SOP (None when they are not a valid one)."""
    try:
        return stored_sop({"title": name[:500] or "workflow", "steps": list(steps or [])})
    except (ValidationError, TypeError):
        return None


def workflow_tasks(
    workflow_id: int,
    name: str,
    steps: Any,
    fits: Mapping[int, WorkflowFit],
    *,
    client_id: int | None = None,
    params: Params = DEFAULT,
) -> dict[str, float]:
    """Each task's hours as the planner would plan the workflow now (the same figures);
    empty when its steps are not a valid SOP."""
    sop = workflow_sop(name, steps)
    if sop is None:
        return {}
    origin = {t.id: (workflow_id, t.id) for t in sop.tasks()}
    library = {t.id: t.estimate_hours for t in sop.tasks()}
    applied = apply_estimates(
        sop, origin, library, fits, client_id=client_id, mode="calibrated", params=params
    )
    return {t.id: t.estimate_hours for t in applied.sop.tasks()}


def fit_summary(f: WorkflowFit) -> dict[str, Any]:
    """What a workflow's fit rests on, for reports."""
    last: datetime | None = f.support.last
    return {
        "runs": f.support.runs,
        "effective_runs": f.support.weight,
        "last_run_at": last.isoformat() if last else None,
        "clients": sorted(f.client_support),
        "changes": {("all" if k is None else str(k)): v.isoformat() for k, v in f.changes.items()},
        "outliers_damped": f.damped,
    }
