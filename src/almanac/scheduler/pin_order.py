"""A pinned task whose dependency could not go before it, said where the user looks (pure).

The core never moves a pin (the user's, or a block kept outside a run's window), so when no
free time is left before a pinned dependent its dependency stays unplaced, and when the pin
lies before the window the dependency is placed after it. Both answers are true, but were
silent: the calendar showed the dependent without its dependency before it. Here each such
pair becomes a warning of the answer, a note on the pinned block and, for an unplaced
dependency, words in its detail naming the pin; the calendar view marks such a block. The
user's pin stays (they said so). A block the scheduler kept outside a replan's window, of
the plan replanned, is given up and the replan solved again (`releasable`); another plan's
is re-placed by scheduling that plan over a window that includes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from almanac.scheduler import calendar_model as cm
from almanac.scheduler.core import Block, Problem, Schedule

BlockKey = tuple[str, datetime]  # (core task id, start in UTC)
_BEFORE = re.compile(r"before (p\d+/[^,]+),")  # `core.grid`'s words for a pinned dependent


@dataclass(frozen=True)
class Gap:
    """`task`'s fixed block `pin` has no full `dep` before it: `dep_end` is where the
    dependency's last block ends (None: no block), `missing` whether some of it is unplaced."""

    task: str
    dep: str
    pin: Block
    dep_end: datetime | None
    missing: bool


@dataclass
class Explained:
    schedule: Schedule  # its unplaced details name the pin
    notes: dict[BlockKey, str]  # per block of a pinned dependent, what it lacks
    warnings: list[str]


def gaps(problem: Problem, schedule: Schedule) -> list[Gap]:
    """Each (pinned dependent, open dependency) whose dependency is not wholly before the
    dependent's first fixed block. New work never comes before its dependency (the core and
    its validator see to that); a fixed block may."""
    known = {t.id for t in problem.tasks}
    unplaced = {u.task_id for u in schedule.unplaced}
    out: list[Gap] = []
    for task in problem.tasks:
        fixed = sorted((b for b in schedule.blocks_for(task.id) if b.fixed), key=_start)
        if not fixed:
            continue
        for dep in task.depends_on:
            if dep not in known:
                continue
            end = max((b.end.astimezone(UTC) for b in schedule.blocks_for(dep)), default=None)
            missing = dep in unplaced or end is None
            if missing or (end is not None and end > _start(fixed[0])):
                out.append(Gap(task.id, dep, fixed[0], end, missing))
    return out


def explain(
    problem: Problem,
    schedule: Schedule,
    inputs: cm.CalendarInputs,
    tz: ZoneInfo,
) -> Explained:
    """The gaps of `schedule` as words. The answer's warnings name another plan's task by
    "<plan>/<key>" (its title may be another client's); block notes and unplaced details
    quote titles, which the writer hides for other plans as it hides the solver's reasons."""
    titles = {cid: repr(row.title) for cid, row in inputs.rows.items()}
    named = {
        cid: title
        if inputs.plan_of(cid) == inputs.named
        else repr("/".join((str(inputs.plan_of(cid)), cm.split_core_id(cid)[1])))
        for cid, title in titles.items()
    }
    found = gaps(problem, schedule)
    notes: dict[BlockKey, str] = {}
    details: dict[str, list[str]] = {}
    warnings: list[str] = []
    for gap in found:
        pin = _pin_words(gap, inputs, tz)
        dep_title, title = titles.get(gap.dep, gap.dep), titles.get(gap.task, gap.task)
        if gap.missing:
            lack = f"its dependency {dep_title} could not be placed before it"
            details.setdefault(gap.dep, []).append(f"{title}, which depends on it, is {pin}")
        else:
            assert gap.dep_end is not None
            lack = f"its dependency {dep_title} ends after it starts ({_hm(gap.dep_end, tz)})"
        for b in schedule.blocks_for(gap.task):
            if gap.dep_end is None or _start(b) < gap.dep_end:
                key = (b.task_id, _start(b))
                notes[key] = f"{notes[key]}; {lack}" if key in notes else lack
        what, dep = named.get(gap.task, gap.task), named.get(gap.dep, gap.dep)
        if gap.missing:
            then = "is not placed" if gap.dep_end is None else "is not fully placed"
        else:
            then = f"ends after it ({_hm(gap.dep_end, tz)})"
        warnings.append(
            f"task {what} is {pin}, but its dependency {dep} {then}: this run's window has "
            f"no free time for it before {what}{_remedy(gap, what, inputs)}"
        )
    unplaced = tuple(
        replace(u, detail="; ".join(filter(None, [_titled(u.detail, titles), *details[u.task_id]])))
        if u.task_id in details
        else u
        for u in schedule.unplaced
    )
    return Explained(replace(schedule, unplaced=unplaced), notes, warnings)


def releasable(
    problem: Problem, schedule: Schedule, inputs: cm.CalendarInputs, tz: ZoneInfo
) -> tuple[frozenset[str], list[str]]:
    """The named plan's tasks a replan kept outside its window (the scheduler's pin, not the
    user's) with a dependency not before them, and what depends on them kept so too; with a
    line for each. Their blocks there are given up and the tasks placed again inside the
    window, after their dependency (or left out with it): the scheduler put them there, and
    a dependent is never kept without its dependency before it."""
    kept = {
        key: key[0]
        for key in inputs.kept_outside - inputs.user_pins
        if inputs.plan_of(key[0]) == inputs.named
    }
    tasks = set(kept.values())
    stack = [g.task for g in gaps(problem, schedule) if (g.task, _start(g.pin)) in kept]
    users: dict[str, list[str]] = {}
    for t in problem.tasks:
        for d in t.depends_on:
            users.setdefault(d, []).append(t.id)
    out: set[str] = set()
    while stack:
        tid = stack.pop()
        if tid in tasks and tid not in out:
            out.add(tid)
            stack.extend(users.get(tid, ()))
    titles = {cid: repr(row.title) for cid, row in inputs.rows.items()}
    lines = [
        f"task {titles.get(tid, tid)} was kept at {_hm(at, tz)}, outside this run's window, "
        "without what it depends on before it: that block is given up, and the task goes "
        "inside the window after its dependency, or is left out with it"
        for (tid, at) in sorted(kept, key=lambda k: (k[1], k[0]))
        if tid in out
    ]
    return frozenset(out), lines


def _titled(detail: str, titles: Mapping[str, str]) -> str:
    """The core's "not enough free time before p12/send, pinned, ..." with the pinned
    task's title for its id (an id is internal; the writer hides another plan's title)."""
    return _BEFORE.sub(lambda m: f"before {titles.get(m[1], m[1])},", detail)


def _pin_words(gap: Gap, inputs: cm.CalendarInputs, tz: ZoneInfo) -> str:
    when = _hm(gap.pin.start, tz)
    key = (gap.task, _start(gap.pin))
    if key in inputs.user_pins:
        return f"pinned by you at {when}"
    if key in inputs.kept_outside:
        return f"kept outside this run's window at {when}"
    return f"fixed at {when} ({gap.pin.reason})" if gap.pin.reason else f"fixed at {when}"


def _remedy(gap: Gap, what: str, inputs: cm.CalendarInputs) -> str:
    """What the user can do, after "; " (nothing for a block already started or frozen)."""
    key = (gap.task, _start(gap.pin))
    if key in inputs.user_pins:
        return f"; move {what} later, or free time before it"
    if key in inputs.kept_outside:
        plan = inputs.plan_of(gap.task)
        return f"; schedule plan {plan} again over a window that includes {what} to re-place both"
    return ""


def _start(block: Block) -> datetime:
    return block.start.astimezone(UTC)


def _hm(when: datetime | None, tz: ZoneInfo) -> str:
    return "" if when is None else f"{when.astimezone(tz):%a %d %b %H:%M}"


def with_notes(
    reason: str, key: BlockKey, notes: Mapping[BlockKey, str], kept: bool = False
) -> str:
    """A block's reason (`kept`: a block kept outside the window, said so), with its note."""
    base = cm.KEPT_OUTSIDE if kept else reason
    note = notes.get(key)
    return f"{base}; {note}" if note else base


# -- the calendar view --------------------------------------------------------------------


def order_conflicts(
    start: datetime, deps: Mapping[str, str], blocks: Sequence[Block], tz: ZoneInfo
) -> list[str]:
    """What a block starting at `start` lacks before it, as the calendar view marks it: each
    open dependency of its task (`deps`: key to title) with no block in its plan's schedule
    (`blocks`, plain keys), or whose last block there ends after `start`."""
    out: list[str] = []
    for dep, title in sorted(deps.items()):
        ends = [b.end for b in blocks if b.task_id == dep]
        if not ends:
            out.append(f"its dependency {title!r} has no block before it (not placed)")
        elif max(ends) > start:
            end = max(ends).astimezone(tz)
            out.append(f"starts before its dependency {title!r} ends ({end:%a %d %b %H:%M})")
    return out
