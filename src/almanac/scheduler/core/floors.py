"""Never worse than simple: the floors every answer must reach when any schedule can.

Simple baselines run on every problem: a priority-first greedy and two global
earliest-deadline-firsts (a dependency as urgent as the work waiting on it, and the textbook
one: each task by its own deadline, which on an overfull calendar often meets far more). The
floors are the best of them on each measure: priority-weighted work placed, and deadlines
(inside the horizon) met. Both are hard constraints of the model.
When a baseline or a mix of them reaches both (or a placement `floor_hint` builds from them),
it is the hint and the search only improves on it. When none does, CP-SAT first searches for a
schedule reaching both, hinted with the nearest placement, for part of the time; if it proves
there is none or finds none in time, a search for the most deadlines met with the work floor
held follows; the most found (or met by a baseline keeping that floor) becomes the deadline
floor, and the answer is the best by the documented objective among schedules keeping both;
it says which floor was missed and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder, TaskVars
from .explain import Placement
from .grid import Grid, TaskPlan
from .model import Floor

# "edf-own": EDF by each task's own deadline (`greedy.placement_order`, `inherit` off).
SIMPLE = ("greedy", "edf", "edf-own")
# The same baselines ignoring where the previous schedule put blocks (`greedy_placement`'s
# `fresh`): present when a solve re-optimises a calendar that has blocks.
PLAIN = ("greedy-plain", "edf-plain", "edf-own-plain")
OWN = ("edf-own", "edf-own-plain")
# The baselines as a person reads them (warnings, reasons); `Floor.baseline` keeps the name.
_WORDS = {
    "greedy": ("a priority greedy", ""),
    "edf": ("a global earliest-deadline-first", ""),
    "edf-own": ("a textbook earliest-deadline-first", " (each task by its own deadline)"),
    "repair-edf": ("a simple repair", " (displaced work most urgent first)"),
    "repair-greedy": ("a simple repair", " (displaced work highest priority first)"),
}


def in_words(baseline: str) -> str:
    """A baseline's name (`edf-own-plain`) in words; an unknown name as it is."""
    name = baseline.removesuffix("-plain")
    if name not in _WORDS:
        return baseline
    head, tail = _WORDS[name]
    return head + (" over the whole calendar afresh" if name != baseline else "") + tail


@dataclass(frozen=True)
class Measure:
    """Priority-weighted slots placed and deadlines met by one placement."""

    work: int
    met: int


def value(plan: TaskPlan) -> int:
    """What placing the task adds to the work measure: its priority-weighted slots."""
    return plan.task.priority * plan.remaining


def on_time(grid: Grid, plan: TaskPlan, chunks: list[tuple[int, int]]) -> bool:
    """Whether `chunks` count for the deadline measure: placed by a deadline inside the
    horizon."""
    if plan.cause is not None or not plan.deadline_in(grid.size) or not chunks:
        return False
    end = max(s + n for s, n in chunks)
    return plan.soft_deadline is None or end <= plan.soft_deadline


def missed_warning(floor: Floor) -> str:
    """A floor the answer missed, as the schedule's warnings say it (baselines in words)."""
    unit = " weighted h" if floor.measure == "weighted hours" else ""
    text = (
        f"{floor.measure}: {floor.value:g} of {floor.floor:g}{unit}, below the floor set by "
        f"{in_words(floor.baseline)}"
    )
    return f"{text}: {floor.why}" if floor.why else text


def measure(grid: Grid, placement: Placement) -> Measure:
    """The two floor measures of a placement (fixed blocks aside: every answer has them)."""
    work = met = 0
    for tid, plan in grid.plans.items():
        chunks = placement.get(tid)
        if chunks:
            work += value(plan)
        met += on_time(grid, plan, chunks or [])
    return Measure(work, met)


@dataclass(frozen=True)
class Floors:
    work: int
    work_from: str
    met: int
    met_from: str

    def reached_by(self, m: Measure) -> bool:
        return m.work >= self.work and m.met >= self.met

    def shortfall(self, m: Measure) -> float:
        """How far `m` is from both floors: the sum of its shortfalls, each relative to its
        floor (0 when it reaches both)."""
        return max(0, self.work - m.work) / max(1, self.work) + max(0, self.met - m.met) / max(
            1, self.met
        )


def floors_of(measures: dict[str, Measure], *, valued: bool = True) -> Floors:
    """The better simple baseline on each measure (ties: the one better on the other).

    With `valued` false (no weight on missed deadlines) there is no deadline floor. The plain
    baselines count too where they ran (`PLAIN`); the textbook EDFs (`OWN`) only for deadlines.
    """
    names = [n for n in (*SIMPLE, *PLAIN) if n in measures]
    # The textbook EDF sets only the deadline floor: the work floor stays the one the issue
    # asks for (greedy's, or the other EDF's when it places more).
    work = max(
        (n for n in names if n not in OWN), key=lambda n: (measures[n].work, measures[n].met)
    )
    met = max(names, key=lambda n: (measures[n].met, measures[n].work))
    return Floors(measures[work].work, work, measures[met].met if valued else 0, met)


def for_repair(floors: Floors, repair: Measure) -> Floors:
    """A replan's floors: the simple ones, but never above the best repair's figures.

    The simple baselines re-plan the whole calendar; a replan repairs the previous schedule
    (see `repair`) and owes the user what they had, not what a fresh plan might find. The
    report still measures the answer against the simple floors and says why one is missed.
    """
    return replace(floors, work=min(floors.work, repair.work), met=min(floors.met, repair.met))


def _missed(builder: ModelBuilder) -> list[cp_model.IntVar]:
    return [tv.missed for tv in builder.tasks.values() if tv.missed is not None]


def _weighted(tasks: list[TaskVars]) -> cp_model.LinearExpr:
    return cp_model.LinearExpr.weighted_sum(
        [tv.placed for tv in tasks], [value(tv.plan) for tv in tasks]
    )


def add_floors(builder: ModelBuilder, floors: Floors) -> cp_model.IntVar | None:
    """Constrain the model to the work floor, and to the deadline floor while the returned
    switch is on (see `switch`); None when there is no deadline floor to enforce."""
    model = builder.model
    model.add(_weighted(list(builder.tasks.values())) >= floors.work)
    missed = _missed(builder)
    # Without a deadline weight the model has no "missed" flags: deadlines are not valued.
    if not missed or floors.met == 0:
        return None
    on = model.new_bool_var("deadline_floor")
    model.add(len(missed) - cp_model.LinearExpr.sum(list(missed)) >= floors.met).only_enforce_if(on)
    return on


def seek_most_met(builder: ModelBuilder) -> None:
    """Make the model's objective the deadlines met (each previous block kept breaking ties,
    so a replan still moves little): the search for the most deadlines the work floor
    allows, when no schedule reaching both floors was found (see `hold_met`)."""
    missed = _missed(builder)
    same = [var for tv in builder.tasks.values() for _, _, var in tv.same]
    builder.model.maximize(
        (len(same) + 1) * (len(missed) - cp_model.LinearExpr.sum(missed))
        + cp_model.LinearExpr.sum(same)
    )


def hold_met(builder: ModelBuilder, met: int) -> None:
    """A deadline floor of `met`, for good: the most the search found with the work floor
    held, below the simple baselines' (which no schedule found reaches with it)."""
    missed = _missed(builder)
    builder.model.add(len(missed) - cp_model.LinearExpr.sum(missed) >= met)


def restriction(builder: ModelBuilder, tids: set[str]) -> cp_model.IntVar:
    """A switch that, when on, places exactly the tasks `tids` (greedy's choice: the work
    floor then holds by construction and only the timing is left to find)."""
    on = builder.model.new_bool_var("only_greedy_tasks")
    for tid, tv in builder.tasks.items():
        builder.model.add(tv.placed == int(tid in tids)).only_enforce_if(on)
    return on


def switch(builder: ModelBuilder, var: cp_model.IntVar, on: bool) -> None:
    """Force a constraint switch on, or leave it free (off: the objective alone decides)."""
    domain = builder.model.proto.variables[var.index].domain
    domain.clear()
    domain.extend([1, 1] if on else [0, 1])


def nearest(floors: Floors, measures: dict[str, Measure]) -> str:
    """The baseline closest to reaching both floors (shortfalls relative to each floor)."""

    return min(measures, key=lambda n: (floors.shortfall(measures[n]), -measures[n].work, n))


def report(
    grid: Grid,
    floors: Floors,
    measures: dict[str, Measure],
    answer: Measure,
    proven: bool = False,
    repair: bool = False,
    most: int | None = None,
    skipped: bool = False,
) -> tuple[Floor, ...]:
    """Both floors as the answer reached them, with a reason for any it did not.

    `proven`: the search proved that no schedule placing exactly the tasks of the baseline
    that set the work floor reaches the deadline floor (else it found none in its time).
    `repair`: the answer is a replan held to a repair of the previous schedule (see
    `for_repair`). `most`: the most deadlines a search found with the work floor held (or a
    baseline keeping it met), when it ran; `skipped`: it did not run, no time being left.
    """
    hours = grid.problem.slot_minutes / 60
    work_ok, met_ok = answer.work >= floors.work, answer.met >= floors.met
    if repair:
        why = (
            "a replan repairs the previous schedule: only what the change broke moves, and "
            "what the change cost is won back with a bounded number of moves; a full "
            "re-plan (scope full) may reach this"
        )
        return _pair(floors, answer, hours, "" if work_ok else why, "" if met_ok else why)
    why = ""
    if not met_ok:
        other, work_from = measures[floors.met_from], in_words(floors.work_from)
        why = (
            f"{in_words(floors.met_from)} meets {floors.met} deadlines but places "
            f"{other.work * hours:g} weighted h, under the {floors.work * hours:g} of "
            f"{work_from}; no schedule of the tasks {work_from} places "
            + (
                f"meets {floors.met} (proven by the solver)"
                if proven
                else f"meeting {floors.met} was found in the time its search had"
            )
            + _other_tasks(most, skipped)
            + f"; the answer keeps the work floor (weighted hours rank first) and meets "
            f"{answer.met}"
        )
    return _pair(floors, answer, hours, "", why)


def _other_tasks(most: int | None, skipped: bool) -> str:
    """What the search over any tasks did: what it found, or that it never ran."""
    if skipped:
        return "; schedules of other tasks were not searched (no time was left for it)"
    if most is None:
        return ""
    return (
        "; with any tasks, none reaching both was found in the time left (the most "
        f"deadlines met with the work floor that a search or a baseline found: {most})"
    )


def repair_floors(
    baseline: str, floor: Measure, answer: Measure, slot_minutes: int
) -> tuple[Floor, ...]:
    """A replan against the simple repair (`repair_greedy.simple_repair`): the answer never
    falls below it (the solver returns the simple repair instead), so both are reached."""
    hours = slot_minutes / 60
    return (
        Floor(
            "weighted hours",
            baseline,
            floor.work * hours,
            answer.work * hours,
            answer.work >= floor.work,
        ),
        Floor("deadlines met", baseline, floor.met, answer.met, answer.met >= floor.met),
    )


def _pair(
    floors: Floors, answer: Measure, hours: float, work_why: str, met_why: str
) -> tuple[Floor, ...]:
    """Both floors against the answer; a floor with a reason counts as missed."""
    return (
        Floor(
            "weighted hours",
            floors.work_from,
            floors.work * hours,
            answer.work * hours,
            answer.work >= floors.work and not work_why,
            work_why,
        ),
        Floor(
            "deadlines met",
            floors.met_from,
            floors.met,
            answer.met,
            answer.met >= floors.met and not met_why,
            met_why,
        ),
    )
