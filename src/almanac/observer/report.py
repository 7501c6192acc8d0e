"""The deterministic reflection report: plain data in, numbers and recommendations out.

Pure: no database, no clock, no LLM. The service gathers the rows and passes `now`.
A workflow's "run" is one instance of it (a process template): the completed execution
runs of that instance summed. A step's run is one task: its completed runs summed (paused
and resumed work), as `TaskRepository.run_history` does for the planner.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from almanac.billing import billable_share_pct, hours_in
from almanac.models.status import DONE_TASK_STATUSES as DONE_STATUSES
from almanac.observer.recommend import recommend
from almanac.observer.rows import BlockRow, RunRow, SprintRow, TaskRow, WorkflowInfo
from almanac.scheduler.day_limits import DayLimits

DRIFT_THRESHOLD_PCT = 30.0  # the design's threshold: more than 30% over or under is drift
SHORT_RUNWAY_WEEKS = 12  # below this the sprint's billable target applies


@dataclass(frozen=True, slots=True)
class Sample:
    """One run of a workflow or step: estimated vs actual hours."""

    key: tuple[int, str | None]  # (workflow id, step key or None for the whole workflow)
    estimated: float
    actual: float
    at: datetime

    @property
    def variance_pct(self) -> float:
        # Rounded so that 13 h against 10 h is exactly 30%, not 30.000000000000004%.
        return round((self.actual - self.estimated) / self.estimated * 100, 6)


def period_bounds(day: date, mode: str, tz: ZoneInfo) -> tuple[date, date, datetime, datetime]:
    """First and last local day of the period in `tz`, and its [start, end) instants in UTC."""
    first = day - timedelta(days=day.weekday()) if mode == "weekly" else day
    last = first + timedelta(days=6 if mode == "weekly" else 0)
    return first, last, *_instants(first, last, tz)


def _instants(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    # In UTC: Python compares and subtracts datetimes sharing one tzinfo by wall time,
    # which is wrong across a DST change.
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end.astimezone(UTC)


def round_quarter(hours: float) -> float:
    """Hours rounded to a quarter, at least a quarter (as the planner's calibration does)."""
    return max(0.25, round(hours * 4) / 4)


def samples(runs: Iterable[RunRow]) -> list[Sample]:
    """Completed runs grouped into workflow runs (per instance) and step runs (per task)."""
    grouped: dict[tuple[str, int], list[RunRow]] = defaultdict(list)
    for r in runs:
        if r.status != "completed" or r.workflow_id is None or r.actual_hours is None:
            continue
        # As the planner's history: the work on a task not done (open or cancelled) and a
        # run of no hours (nothing tracked) are no measure of how long the task takes.
        if r.task_unfinished or r.actual_hours <= 0:
            continue
        # Below a millionth of an hour (stored before estimates were rounded) the variance
        # is infinite, which no report can hold.
        if r.at is None or not r.estimated_hours or r.estimated_hours < 1e-6:
            continue
        if r.instance_id is not None:
            grouped[("workflow", r.instance_id)].append(r)
        if r.task_id is not None and r.task_key:
            grouped[("step", r.task_id)].append(r)
    out: list[Sample] = []
    for (kind, _), rows in grouped.items():
        first = rows[0]
        assert first.workflow_id is not None
        key = (first.workflow_id, first.task_key if kind == "step" else None)
        # A task's estimate is the same on each of its runs (paused and resumed work), so
        # it counts once; an instance's estimate is the sum over its tasks.
        per_task: dict[int | None, float] = {}
        for n, r in enumerate(rows):
            slot = r.task_id if r.task_id is not None else -1 - n
            per_task[slot] = max(per_task.get(slot, 0.0), r.estimated_hours or 0.0)
        estimated = sum(per_task.values())
        actual = sum(r.actual_hours or 0 for r in rows)
        at = max(r.at for r in rows if r.at is not None)
        out.append(Sample(key, estimated, actual, at))
    out.sort(key=lambda s: s.at)
    return out


def drift(
    runs: Iterable[RunRow],
    workflows: dict[int, WorkflowInfo],
    *,
    threshold_pct: float = DRIFT_THRESHOLD_PCT,
    window: int = 4,
    min_runs: int = 2,
) -> list[dict[str, Any]]:
    """Workflows and steps whose last `window` runs are off by more than `threshold_pct`."""
    by_key: dict[tuple[int, str | None], list[Sample]] = defaultdict(list)
    for s in samples(runs):
        by_key[s.key].append(s)
    found: list[dict[str, Any]] = []
    for (wid, step), all_runs in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        last = all_runs[-window:]
        if len(last) < min_runs:
            continue
        # The typical factor, as the planner measures (log ratios): over- and under-runs
        # of the same factor weigh alike (2 h and 25 h against 10 h are 29% under, where
        # the mean of percentages said 35% over, beside the planner's lower 8.6 h).
        factor = math.exp(mean(math.log(s.actual / s.estimated) for s in last))
        variance = round((factor - 1) * 100, 6)
        if abs(variance) <= threshold_pct:  # exactly at the threshold is not drift
            continue
        info = workflows.get(wid, WorkflowInfo(f"#{wid}", None))
        # The suggestion is the planner's own estimate (planner/estimates.py), so the
        # reflection and the next plan say the same; without one, the recent variance.
        if step is None:
            current = info.estimate_hours
            suggested = info.suggested_hours
        else:
            current = info.library_tasks.get(step) or mean(s.estimated for s in last)
            suggested = info.suggested_tasks.get(step)
        if current and suggested is None:
            suggested = round_quarter(current * (1 + variance / 100))
        found.append(
            {
                "kind": "step" if step else "workflow",
                "workflow_id": wid,
                "workflow": info.name,
                "step": step,
                # A step the library does not define: a task an LLM added to one plan, its
                # id made from that plan's (a client's) context. Shared text counts it.
                "in_library": step is None or step in info.library_tasks,
                "runs": len(last),
                "mean_variance_pct": round(variance, 1),
                "estimate_hours": round(current, 2) if current else None,
                "suggested_hours": suggested,
            }
        )
    return found


def _blocks(
    blocks: Sequence[BlockRow],
    tasks: dict[int, TaskRow],
    runs: Sequence[RunRow],
    tz: ZoneInfo,
    now: datetime,
) -> dict[str, int]:
    """Kept: worked on that local day (or the task is done); moved: not where first placed;
    missed: in the past with no work; upcoming: not yet due."""
    worked = {(r.task_id, r.at.astimezone(tz).date()) for r in runs if r.task_id and r.at}
    counts = {"kept": 0, "moved": 0, "missed": 0, "upcoming": 0}
    for b in blocks:
        task = tasks.get(b.task_id) if b.task_id is not None else None
        if b.first_start is not None and (b.first_start, b.first_end) != (b.start, b.end):
            counts["moved"] += 1
        elif (b.task_id, b.start.astimezone(tz).date()) in worked or (
            task is not None and task.status in DONE_STATUSES
        ):
            counts["kept"] += 1
        elif b.end <= now:
            counts["missed"] += 1
        else:
            counts["upcoming"] += 1
    return counts


def finished_in(runs: Sequence[RunRow], start: datetime, end: datetime) -> list[int]:
    """Ids of the tasks whose run completed in [start, end)."""
    return [
        r.task_id
        for r in runs
        if r.task_id is not None
        and r.status == "completed"
        and r.ended_at is not None
        and start <= r.ended_at < end
    ]


def _done_measured(done: Sequence[TaskRow]) -> dict[str, float | int]:
    """Estimate against reality for the tasks done in the period: each one's estimate and
    every hour recorded on it (in earlier periods too). `hours_estimated` is the tasks
    *planned* in the period, so a task finished ahead of its blocks read as "0 h
    estimated, 2 h worked". A task done without hours recorded is no measure."""
    measured = [t for t in done if t.estimate_hours and t.logged_hours > 0]
    return {
        "done_tasks_measured": len(measured),
        "done_hours_estimated": round(sum(t.estimate_hours or 0 for t in measured), 2),
        "done_hours_worked": round(sum(t.logged_hours for t in measured), 2),
    }


def build_report(
    *,
    mode: str,
    first: date,
    last: date,
    tz: ZoneInfo,
    now: datetime,
    tasks: Sequence[TaskRow],
    runs: Sequence[RunRow],
    blocks: Sequence[BlockRow],
    sprint: SprintRow | None,
    workflows: dict[int, WorkflowInfo],
    day_limits: DayLimits,
    drift_threshold_pct: float = DRIFT_THRESHOLD_PCT,
    drift_window: int = 4,
    finished: Collection[int] | None = None,
) -> dict[str, Any]:
    """The period's numbers, drift, slips, overbooked days, billable share, recommendations.

    `runs` may reach back before the period (drift needs history); period totals only count
    runs that started in it. Everything is bucketed by local day in `tz`. `finished` is
    `finished_in(runs, ...)` for the period when the caller has it already.
    """
    start, end = _instants(first, last, tz)

    def inside(t: datetime | None) -> bool:
        return t is not None and start <= t < end

    def planned_at(t: TaskRow) -> datetime | None:
        # Finished ahead of its blocks (freed, with its start): planned where they were, in
        # the period it was finished in (finished earlier, it is no work of a later one).
        done_here = t.status in DONE_STATUSES and inside(t.finished_at)
        return t.planned_start if t.scheduled_start is None and done_here else t.scheduled_start

    planned = [t for t in tasks if inside(planned_at(t))]
    # Done: marked done in the period. A done task that kept no finish time (done before
    # it was kept) counts where its run completed, or where it was planned.
    finished = set(finished_in(runs, start, end) if finished is None else finished)
    done = [
        t
        for t in tasks
        if t.status in DONE_STATUSES
        and (
            inside(t.finished_at)
            if t.finished_at is not None
            else t.id in finished or inside(t.scheduled_start)
        )
    ]
    not_done = [t for t in planned if t.status not in DONE_STATUSES]
    period_runs = [r for r in runs if inside(r.at)]
    # Hours logged are hours worked whatever became of the task (open, done or cancelled),
    # counted on the day they were worked; only estimate-vs-actual learning (`samples`,
    # `drift`) waits for completed runs.
    worked = [(r, hours_in(r.entries, r.actual_hours, r.at, start, end)) for r in runs]
    actual = sum(h for _, h in worked)
    billable = sum(h for r, h in worked if r.billable)
    by_id = {t.id: t for t in tasks}
    in_blocks = [b for b in blocks if inside(b.start)]
    by_day: dict[date, float] = defaultdict(float)
    for b in in_blocks:
        by_day[b.start.astimezone(tz).date()] += (b.end - b.start).total_seconds() / 3600
    overbooked: list[dict[str, Any]] = []
    for d, h in sorted(by_day.items()):
        limit = day_limits.on(d)
        if h > limit[0] + 1e-9:
            # `hours` booked; `max_hours` the limit and `limit` what set it.
            overbooked.append(
                {
                    "day": d.isoformat(),
                    "hours": round(h, 2),
                    "max_hours": limit[0],
                    "limit": limit[1],
                }
            )
    slipped: list[dict[str, Any]] = [
        {
            "task_id": t.id,
            "title": t.title,
            "deadline": t.deadline.isoformat(),
            "status": t.status,
            "client_id": t.client_id,
        }
        for t in sorted(tasks, key=lambda t: (t.deadline or now, t.id))
        if t.deadline is not None
        and inside(t.deadline)
        and t.deadline <= now
        and t.status not in DONE_STATUSES
        and t.status not in ("cancelled", "skipped")
    ]
    found = drift(
        [r for r in runs if r.at is not None and r.at < end],
        workflows,
        threshold_pct=drift_threshold_pct,
        window=drift_window,
    )
    share_pct = billable_share_pct(billable, actual)
    billable_out: dict[str, Any] = {
        "billable_hours": round(billable, 2),
        "worked_hours": round(actual, 2),
        "share_pct": share_pct,
        "target_pct": sprint.billable_target_pct if sprint else None,
        "runway_weeks": sprint.runway_weeks if sprint else None,
        "target_applies": bool(
            sprint and sprint.runway_weeks is not None and sprint.runway_weeks < SHORT_RUNWAY_WEEKS
        ),
    }
    billable_out["below_target"] = bool(
        billable_out["target_applies"]
        and share_pct is not None
        and sprint is not None
        and share_pct < sprint.billable_target_pct
    )
    recommendations = recommend(found, slipped, overbooked, billable_out, sprint)
    return {
        "mode": mode,
        "period": {"start": first.isoformat(), "end": last.isoformat(), "timezone": tz.key},
        "numbers": {
            "tasks_planned": len(planned),
            "tasks_done": len(done),
            "tasks_not_done": len(not_done),
            "hours_estimated": round(sum(t.estimate_hours or 0 for t in planned), 2),
            "hours_actual": round(actual, 2),
            **_done_measured(done),
            "blocks": _blocks(in_blocks, by_id, period_runs, tz, now),
        },
        "drift": found,
        "slipped": slipped,
        "overbooked_days": overbooked,
        "billable": billable_out,
        "recommendations": recommendations,
    }
