"""Turn a placement on the grid into a Schedule: blocks with reasons, unplaced tasks with causes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from .grid import Grid, TaskPlan, Week
from .model import Block, Floor, Schedule, SolveStatus, Unplaced, UnplacedCause

Placement = dict[str, list[tuple[int, int]]]  # task id -> chunks as (start slot, length)


def capacity_cause(plan: TaskPlan) -> tuple[UnplacedCause, str]:
    """The cause for a task that could fit on its own but lost its time to other work."""
    if plan.task.hard_deadline:
        return (
            UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE,
            "the free time before it went to other work",
        )
    if plan.before:
        return UnplacedCause.NO_CAPACITY, (
            f"the free time before {plan.before}, pinned, which depends on it, went to other work"
        )
    return UnplacedCause.NO_CAPACITY, "the free time in the horizon went to other work"


def assemble(
    grid: Grid,
    placement: Placement,
    causes: dict[str, tuple[UnplacedCause, str]],
    status: SolveStatus,
    *,
    wall_time: float,
    objective: float | None = None,
    bound: float | None = None,
    solver_status: str = "",
    source: str = "",
    stopped: str = "",
    floors: tuple[Floor, ...] = (),
    scope: str = "",
) -> Schedule:
    """Build the Schedule for `placement`; tasks not in it are explained with `causes`."""
    tasks = {t.id: t for t in grid.problem.tasks}
    blocks = [_fixed_lateness(grid, b, tasks[b.task_id].deadline) for b in grid.fixed]
    for tid, chunks in placement.items():
        plan = grid.plans[tid]
        for k, (start, length) in enumerate(chunks):
            reason = _reason(grid, plan, placement, k, len(chunks), start, length)
            blocks.append(Block(tid, 0, grid.at(start), grid.at(start + length), reason))
    blocks.sort(key=lambda b: (b.start, b.task_id))
    numbered = number_blocks(blocks, grid.problem.previous, grid.problem.held)
    gap = None
    if objective is not None and bound is not None:
        gap = abs(bound - objective) / max(1.0, abs(objective))
    return Schedule(
        tuple(numbered),
        tuple(_unplaced(grid, placement, causes)),
        status,
        objective,
        bound,
        gap,
        wall_time,
        solver_status,
        source or str(status),
        stopped,
        floors,
        scope,
    )


def number_blocks(
    blocks: list[Block], previous: Sequence[Block], held: Sequence[Block] = ()
) -> list[Block]:
    """Chunk numbers per task: a block kept exactly where it was keeps its previous number
    (its calendar event, `plan<id>-<task>-<chunk>`, is then untouched); the others take the
    task's lowest free numbers in time order. Renumbering in time order would change the
    events of kept blocks whenever an earlier block of their task moved.

    `held` are blocks whose calendar events stay outside this solve (a task's past blocks):
    a block exactly on one keeps its number, and no other block takes it, or writing it
    would move that event."""
    before = {(b.task_id, _utc(b.start), _utc(b.end)): b.chunk for b in (*held, *previous)}
    reserved: dict[str, set[int]] = defaultdict(set)
    for b in held:
        reserved[b.task_id].add(b.chunk)
    taken: dict[str, set[int]] = defaultdict(set)
    numbers: list[int | None] = []
    for block in blocks:
        n = before.get((block.task_id, _utc(block.start), _utc(block.end)))
        if n is not None and n not in taken[block.task_id]:
            taken[block.task_id].add(n)
        else:
            n = None
        numbers.append(n)
    out = []
    for block, n in zip(blocks, numbers, strict=True):
        if n is None:
            used = taken[block.task_id] | reserved[block.task_id]
            n = next(i for i in range(len(used) + 1) if i not in used)
            taken[block.task_id].add(n)
        out.append(replace(block, chunk=n))
    return out


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _unplaced(
    grid: Grid, placement: Placement, causes: dict[str, tuple[UnplacedCause, str]]
) -> list[Unplaced]:
    out = []
    use = _week_use(grid, placement)
    for task in grid.problem.tasks:
        plan = grid.plans.get(task.id)
        if plan is None or task.id in placement:
            continue
        cause = causes.get(task.id) or plan.cause
        if cause is None:
            missing = [d for d in task.depends_on if d in grid.plans and d not in placement]
            cause = waiting_cause(grid, missing[0]) if missing else capacity_cause(plan)
        full = _full_week(grid, plan, use) if use is not None else ""
        if full and cause[0] in (
            UnplacedCause.NO_CAPACITY,
            UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE,
        ):
            # "The free time went to other work" where free time was left: a week's
            # capacity (a sprint's, or the weekly maximum) was what held (it said nothing).
            cause = (cause[0], f"{cause[1]}, or is past the capacity of the week of {full}")
        out.append(Unplaced(task.id, cause[0], cause[1]))
    return out


def _week_use(grid: Grid, placement: Placement) -> tuple[dict[Week, int], set[int]] | None:
    """Slots placed per week, and every slot taken; None when no week has a capacity."""
    if grid.week_cap is None:
        return None
    used: dict[Week, int] = defaultdict(int)
    taken: set[int] = set()
    for chunks in placement.values():
        for start, length in chunks:
            if grid.day_of[start] >= 0:
                used[grid.days[grid.day_of[start]].week] += length
            taken.update(range(start, start + length))
    return used, taken


def _full_week(grid: Grid, plan: TaskPlan, use: tuple[dict[Week, int], set[int]]) -> str:
    """The first week in the task's window whose capacity leaves no room for its least
    part while free slots are left there (its Monday, as "Mon 14 Dec"), or ""."""
    assert grid.week_cap is not None  # `use` is made only then
    used, taken = use
    full: set[Week] = set()
    for i in range(max(0, plan.lo), min(plan.hi, grid.size)):
        if not grid.free[i] or i in taken or grid.day_of[i] < 0:
            continue
        week = grid.days[grid.day_of[i]].week
        if used[week] + plan.min_len > grid.week_cap.get(week, 0):
            full.add(week)
    if not full:
        return ""
    year, number = min(full)
    return f"{date.fromisocalendar(year, number, 1):%a %d %b}"


def _reason(
    grid: Grid, plan: TaskPlan, placement: Placement, k: int, n: int, start: int, length: int
) -> str:
    tz = grid.problem.tz
    if (start, length) in plan.prev:
        return "kept where it was in the previous plan" + _lateness(
            grid, plan, start + length, placement
        )
    begin, end = grid.at(start), grid.at(start + length)
    local = begin.astimezone(tz)
    task = plan.task
    window = next(
        (
            w
            for w in grid.windows
            if w.weight > 0
            and w.lo <= start
            and start + length <= w.hi
            and (w.tag is None or w.tag in task.tags)
        ),
        None,
    )
    if window is not None:
        where = f"preferred {window.tag} window" if window.tag else "preferred window"
    else:
        where = (
            "morning" if local.hour < 12 else "afternoon" if local.hour < 17 else "evening"
        ) + " window"
    deps = [d for d in task.depends_on if d in placement]
    first = None
    if k == 0:  # "earliest" ignores other tasks: the first free stretch it could have used
        lo = max([plan.lo] + [placement[d][-1][0] + placement[d][-1][1] for d in deps])
        first = next((i for i in range(lo, plan.hi) if grid.run[i] >= plan.min_len), None)
    text = f"{'earliest free' if start == first else 'free'} {where}"
    if task.deadline is not None:
        label = _day_label(task.deadline.astimezone(tz), local)
        if end <= task.deadline:
            text += f" before the {label} deadline"
        else:
            text += _lateness(grid, plan, start + length, placement)
    if deps:
        last = max(deps, key=lambda d: placement[d][-1][0])
        text += f", after {_title(grid, last)!r}"
    if n > 1:
        text += f" (part {k + 1} of {n})"
    return text


def _lateness(grid: Grid, plan: TaskPlan, end: int, placement: Placement) -> str:
    """ ", LATE by X h after the <day> deadline: why" for a block ending after the deadline.

    Why, in this order: not enough free working time before the deadline for the task's
    hours in the fewest parts it takes (with the gap between parts); a dependency that ends
    too late; else the time went to other work, named."""
    deadline = plan.task.deadline
    if deadline is None or grid.at(end) <= deadline:
        return ""
    tz = grid.problem.tz
    late = (grid.at(end) - deadline) / timedelta(hours=1)
    label = _day_label(deadline.astimezone(tz), grid.at(end).astimezone(tz))
    due = min(grid.floor_idx(deadline), grid.size)
    need = plan.remaining + (plan.min_chunks - 1) * max(grid.buffer_slots, 1)

    def free_from(lo: int) -> int:  # free working time, ignoring other tasks, before `due`
        return sum(1 for i in range(lo, due) if grid.free[i])

    ends = {d: max(s + n for s, n in placement[d]) for d in plan.task.depends_on if d in placement}
    last = max(ends, key=lambda d: ends[d], default=None)
    ready = max(plan.lo, ends[last]) if last is not None else plan.lo
    if free_from(plan.lo) < need:
        why = "there is not enough free working time before it"
    elif last is not None and free_from(ready) < need:
        when = _clock_label(grid.at(ends[last]).astimezone(tz), deadline.astimezone(tz))
        why = f"it must follow {_title(grid, last)!r}, which ends {when}"
    else:
        others = [
            t
            for t, chunks in sorted(placement.items(), key=lambda kv: min(kv[1]))
            if t != plan.task.id and any(s < due and s + n > ready for s, n in chunks)
        ]
        names = ", ".join(repr(_title(grid, t)) for t in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        why = "the free time before it went to other work" + (f" ({names}{more})" if names else "")
    return f", LATE by {_hours(late)} h after the {label} deadline: {why}"


def _hours(value: float) -> str:
    """2.25 -> "2.25", 3.5 -> "3.5", 2 -> "2.0": a quarter hour is not rounded away."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def _clock_label(when: datetime, deadline: datetime) -> str:
    """ "at 13:15" on the deadline's day, else "on Tuesday at 13:15" or "on 8 Dec at 13:15"."""
    if when.date() == deadline.date():
        return f"at {when:%H:%M}"
    day = _day_label(when, deadline)
    return f"on {day} at {when:%H:%M}"


def _fixed_lateness(grid: Grid, block: Block, deadline: datetime | None) -> Block:
    """A pinned, started or frozen block past its task's deadline says so, and why."""
    if deadline is None or block.end <= deadline:
        return block
    tz = grid.problem.tz
    late = (block.end - deadline) / timedelta(hours=1)
    label = _day_label(deadline.astimezone(tz), block.end.astimezone(tz))
    return replace(
        block,
        reason=f"{block.reason}, LATE by {_hours(late)} h after the {label} deadline: "
        "a fixed block is not moved",
    )


def waiting_cause(grid: Grid, task_id: str) -> tuple[UnplacedCause, str]:
    """A task left out because its dependency `task_id` was: named by its title, as reasons
    name tasks (the service hides another plan's), not by the core's "p<plan>/<key>" id."""
    return UnplacedCause.DEPENDENCY_UNPLACED, f"waits for {_title(grid, task_id)!r}"


def _title(grid: Grid, task_id: str) -> str:
    return grid.plans[task_id].task.title if task_id in grid.plans else task_id


def _day_label(deadline: datetime, start: datetime) -> str:
    if 0 <= (deadline.date() - start.date()).days < 7:
        return "same-day" if deadline.date() == start.date() else f"{deadline:%A}"
    return f"{deadline.day} {deadline:%b}"


def renumber(blocks: list[Block]) -> list[Block]:
    """Blocks in time order, each keeping its chunk number (its calendar event), as a solve
    numbers them; only a duplicate number takes the task's lowest free one."""
    ordered = sorted(blocks, key=lambda b: (b.start, b.task_id))
    return number_blocks(ordered, ordered)
