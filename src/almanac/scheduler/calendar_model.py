"""One model for the whole calendar: every open task of every plan in the calendar.

Scheduling names one plan, but the solver sees the open tasks of every approved, scheduled or
active plan, with every busy event, pin, limit and deadline, so limits hold for the week and
urgency is compared across plans. Core task ids are `p<plan id>/<task key>`. The named plan's
previous blocks are only a stability hint (scheduling again replaces them entirely); other
plans' blocks outside the window are kept as they are, and inside it they may move at a
stability cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from almanac.calendars.base import CalendarEvent
from almanac.errors import ValidationFailed
from almanac.models import Plan, SchedulerRun
from almanac.models import Task as TaskRow
from almanac.models.status import WRITTEN_PLAN_STATUSES
from almanac.scheduler import problem as pb
from almanac.scheduler.core import Block, Problem

# Plans whose open tasks compete for the same hours; only scheduled/active ones have blocks.
KEPT_OUTSIDE = "kept: outside this run's window"


def core_id(plan_id: int, key: str) -> str:
    return f"p{plan_id}/{key}"


def split_core_id(value: str) -> tuple[int, str]:
    head, _, key = value.partition("/")
    return int(head[1:]), key


class Hider(Protocol):
    """Replaces other plans' task titles in a reason; `about`: the plan of the task the
    reason is about, whose titles are its dependencies' and win a title plans share."""

    def __call__(self, text: str, about: int | None = None) -> str: ...


def title_hider(titles: Mapping[str, str], plan_id: int) -> Hider:
    """Replace another plan's task titles, as reasons quote them, by "<plan>/<key>"; not a
    title one of `plan_id`'s own tasks has too (plans from one workflow share titles), which
    tells nothing new and would make its own task's reason name the other plan's. Two other
    plans sharing a title: a reason about one plan's task names that plan's (its
    dependencies are its own), else the first."""
    own = {title for core, title in titles.items() if split_core_id(core)[0] == plan_id}
    named: list[tuple[str, str]] = []
    by_plan: dict[int, list[tuple[str, str]]] = {}
    for core, title in titles.items():
        pid, key = split_core_id(core)
        if pid != plan_id and title not in own:
            pair = (repr(title), repr(f"{pid}/{key}"))
            named.append(pair)
            by_plan.setdefault(pid, []).append(pair)
    # Longest first, so a title that contains another is replaced whole.
    replace_named = _replacing(sorted(named, key=lambda x: -len(x[0])))
    replace_in = {p: _replacing(sorted(v, key=lambda x: -len(x[0]))) for p, v in by_plan.items()}

    def hide(text: str, about: int | None = None) -> str:
        if about is not None and about in replace_in:
            text = replace_in[about](text)
        return replace_named(text)

    return hide


def title_shower(titles: Mapping[str, str], plan_id: int) -> Callable[[str], str]:
    """Undo `title_hider` for `plan_id`'s own tasks: "<plan>/<key>" back to its title. A
    preview of another plan stored this plan's reasons hidden; its own run quotes them."""
    named = [
        (repr(f"{pid}/{key}"), repr(title))
        for core, title in titles.items()
        for pid, key in [split_core_id(core)]
        if pid == plan_id
    ]
    return _replacing(named)


def _replacing(pairs: Sequence[tuple[str, str]]) -> Callable[[str], str]:
    """A function replacing each pair's first string by its second, in order."""

    def replace_all(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    return replace_all


def row_key(row: TaskRow) -> str:
    return row.plan_task_key or f"task{row.id}"


@dataclass
class CalendarInputs:
    """The rows and previous blocks of every plan in one solve, keyed by core task id."""

    named: int
    plans: dict[int, Plan]
    inputs: list[pb.TaskInput] = field(default_factory=list)
    rows: dict[str, TaskRow] = field(default_factory=dict)
    previous: list[Block] = field(default_factory=list)  # all plans, core ids
    # Blocks whose calendar events stay outside the window (past ones, other plans' kept
    # ones): their chunk numbers stay theirs. Core ids.
    held: list[Block] = field(default_factory=list)
    kept_outside: set[tuple[str, datetime]] = field(default_factory=set)
    # The named plan's blocks a replan kept outside its window and then gave up (`release`).
    released: list[Block] = field(default_factory=list)
    # The user's own pins (a move by hand, or one the sync adopted): (core id, UTC start).
    user_pins: set[tuple[str, datetime]] = field(default_factory=set)
    # Open tasks with their whole estimate recorded: no time is left to plan (core ids).
    finished: dict[str, TaskRow] = field(default_factory=dict)
    run_ids: dict[int, int] = field(default_factory=dict)  # plan -> last applied run

    def plan_of(self, task_id: str) -> int:
        return split_core_id(task_id)[0]

    def written(self, plan_id: int) -> bool:
        """Whether this solve writes the plan's blocks (the named plan, or one in the calendar)."""
        return plan_id == self.named or self.plans[plan_id].status in WRITTEN_PLAN_STATUSES


def _outside(block: Block, window: tuple[datetime, datetime]) -> bool:
    return block.end <= window[0] or block.start >= window[1]


def gather(
    named: Plan,
    plans: Sequence[Plan],
    rows: Sequence[TaskRow],
    runs: Mapping[int, SchedulerRun],
    window: tuple[datetime, datetime],
    written_from: datetime | None = None,
    keep_outside: bool = False,
    release: Set[str] = frozenset(),
) -> CalendarInputs:
    """Task inputs for every plan, with the previous schedule of each (pure).

    The named plan's blocks ending by `written_from` (where the calendar write begins:
    past blocks) keep their events, so their numbers are held; its later blocks outside
    the window are replaced (scheduling again), or kept as other plans' are (`keep_outside`:
    a replan, whose window is the plan's own and moves as little as it can), but not those
    of the tasks in `release` (core ids: `pin_order.releasable`)."""
    by_id = {p.id: p for p in plans}
    by_id[named.id] = named
    out = CalendarInputs(named.id, by_id, run_ids={p: r.id for p, r in runs.items()})
    pins: dict[str, list[dict[str, str]]] = {}
    for plan_id, run in runs.items():
        for block in held_blocks(run):
            out.held.append(replace(block, task_id=core_id(plan_id, block.task_id)))
        for block in pb.blocks_from_json(run.schedule_blocks):
            cid = core_id(plan_id, block.task_id)
            core = replace(block, task_id=cid)
            if not _outside(block, window):
                out.previous.append(core)
                continue
            if plan_id == named.id:
                if written_from is not None and block.end <= written_from:
                    out.held.append(core)
                    continue
                if cid in release:
                    out.released.append(core)
                if not keep_outside or cid in release:
                    continue
            out.held.append(core)
            pins.setdefault(cid, []).append(
                {"start": block.start.isoformat(), "end": block.end.isoformat()}
            )
            out.kept_outside.add((cid, block.start.astimezone(UTC)))
    for row in rows:
        if row.plan_id is None or row.plan_id not in by_id:
            continue
        cid = core_id(row.plan_id, row_key(row))
        if all_recorded(row):
            # Blocks never add up to more than the remaining estimate: none, as for a done task.
            out.finished[cid] = row
            continue
        out.rows[cid] = row
        meta: dict[str, Any] = dict(row.metadata_ or {})
        out.user_pins |= {(cid, start) for start in _pin_starts(meta.get("pinned") or [])}
        if cid in pins:
            meta["pinned"] = _with_pins(meta.get("pinned") or [], pins[cid])
        out.inputs.append(
            pb.TaskInput(
                key=cid,
                title=row.title,
                estimate_hours=remaining_hours(row),
                priority=row.priority,
                billable=row.billable,
                depends_on=tuple(core_id(row.plan_id, str(d)) for d in row.depends_on or ()),
                earliest_start=row.earliest_start,
                deadline=row.deadline,
                metadata=meta,
                name=row_key(row) if row.plan_id == named.id else f"{row.plan_id}/{row_key(row)}",
            )
        )
    return out


def _pin_starts(pinned: list[Any]) -> list[datetime]:
    """The UTC starts of a task's readable pins (`problem._pins` warns about the others)."""
    out = []
    for raw in pinned:
        try:
            out.append(datetime.fromisoformat(raw["start"]).astimezone(UTC))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _with_pins(pinned: list[Any], kept: list[dict[str, str]]) -> list[Any]:
    """The task's own pins, then the kept blocks that are not one of them already: a block
    pinned by hand and kept outside the window was added twice, two blocks at one time."""

    def span(raw: Any) -> tuple[datetime, datetime] | None:
        try:
            return datetime.fromisoformat(raw["start"]), datetime.fromisoformat(raw["end"])
        except (KeyError, TypeError, ValueError):
            return None  # unreadable: `problem._pins` warns about it

    out, seen = list(pinned), {span(p) for p in pinned}
    for pin in kept:
        if span(pin) not in seen:
            seen.add(span(pin))
            out.append(pin)
    return out


def held_blocks(run: SchedulerRun) -> list[Block]:
    """The blocks a run holds outside its schedule: earlier runs' past blocks, whose
    calendar events stay (plain task keys; none in runs written before they were kept)."""
    held = (run.metadata_ or {}).get("held")
    mine = held.get(str(run.plan_id)) if isinstance(held, dict) else None
    return pb.blocks_from_json(mine) if isinstance(mine, list) else []


def held_meta(inputs: CalendarInputs, plan_id: int, written: Sequence[Block]) -> list[Any]:
    """What a new run of `plan_id` records as held (run metadata `held`, by plan): its
    blocks whose events stay outside the window and that the new schedule does not hold
    itself, for its open tasks (plain task keys)."""
    kept = {(b.task_id, b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in written}
    out: dict[tuple[str, datetime, datetime], Block] = {}
    for b in inputs.held:
        pid, key = split_core_id(b.task_id)
        at = (key, b.start.astimezone(UTC), b.end.astimezone(UTC))
        if pid == plan_id and at not in kept and b.task_id in inputs.rows:
            out.setdefault(at, replace(b, task_id=key))
    return [pb.block_to_json(b) for b in sorted(out.values(), key=lambda b: b.start)]


def logged_hours(row: TaskRow) -> float:
    """The hours recorded against the task (its execution run's total)."""
    return float((row.metadata_ or {}).get("logged_hours") or 0.0)


def removed_hours(row: TaskRow) -> float:
    """The hours of the task's blocks the user deleted from their calendar (`sync`): their
    decision, not planned again until the task's estimate is set anew."""
    return float((row.metadata_ or {}).get("removed_hours") or 0.0)


def remaining_hours(row: TaskRow) -> float | None:
    """The estimate less the hours already recorded against the task and those the user
    removed from the calendar, at least 0. Without an estimate the solver assumes one: the
    hours removed come off that (they came off nothing, and the block was written back)."""
    est, removed = row.estimate_hours, removed_hours(row)
    est = pb.DEFAULT_ESTIMATE_HOURS if est is None and removed else est
    return None if est is None else max(0.0, est - logged_hours(row) - removed)


def all_recorded(row: TaskRow) -> bool:
    """The hours recorded (or removed from the calendar by the user) reach the estimate: no
    time is left to plan. An estimate of 0 (set by PATCH) is one too: the task API shows 0 h
    remaining, and a schedule that assumed an hour gave it a block its estimate does not
    allow."""
    left = remaining_hours(row)
    return left is not None and left <= 0


def busy_events(
    events: Sequence[CalendarEvent], solved_plans: set[int]
) -> list[tuple[datetime, datetime]]:
    """The user's busy time, plus Almanac blocks of plans outside the solve (they stay)."""
    out = []
    for e in events:
        if not e.busy:
            continue
        parsed = pb.parse_almanac_id(e.almanac_id) if e.almanac_id else None
        if e.almanac_id is not None and (parsed is None or parsed[0] in solved_plans):
            continue
        out.append((e.start, e.end))
    return out


def require_working_time(problem: Problem, start: date, days: int) -> None:
    """422 naming `start_date` when the window holds no working time from now on: writing
    it would only clear the plan's blocks elsewhere (an impossible window)."""
    if no_working_time(problem):
        last = start + timedelta(days=days - 1)
        raise ValidationFailed(
            f"the window {start} to {last} (horizon_days {days}) holds no working time from "
            "now on (working days and hours, as preferences set them)",
            field="start_date",
        )


def no_working_time(problem: Problem) -> bool:
    """True when no working hours lie between now (or the window's start) and its end."""
    tz, lo = problem.tz, max(problem.now, problem.horizon_start)
    day = lo.astimezone(tz).date()
    while datetime.combine(day, datetime.min.time(), tzinfo=tz) < problem.horizon_end:
        for w in problem.working_hours:
            if w.weekday != day.weekday():
                continue
            start = datetime.combine(day, w.start, tzinfo=tz)
            if datetime.combine(day, w.end, tzinfo=tz) > lo and start < problem.horizon_end:
                return False
        day += timedelta(days=1)
    return True


def first_starts(blocks: Sequence[Block], keys: Sequence[str]) -> dict[str, datetime | None]:
    """Each task key's earliest block in a plan's schedule (None: no block there): its
    `tasks.scheduled_start`, set by the writer from what it writes and kept so by freeing
    and moving blocks."""
    out: dict[str, datetime | None] = dict.fromkeys(keys)
    for b in blocks:
        first = out.get(b.task_id)
        if b.task_id in out and (first is None or b.start < first):
            out[b.task_id] = b.start
    return out
