"""Property-based checks on random small calendars: whatever the input, both schedulers return
schedules the independent validator accepts, greedy placements are feasible CP-SAT hints, and
CP-SAT never does worse than greedy on its own objective. Off-grid meetings, odd time zones,
pinned blocks and clock-change weeks are all in the mix.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from almanac.scheduler.core import (
    Interval,
    PreferredWindow,
    Problem,
    Schedule,
    SolveStatus,
    Task,
    greedy_schedule,
    solve,
    validate,
)
from almanac.scheduler.core.baselines import candidates
from almanac.scheduler.core.cpsat_model import ModelBuilder
from almanac.scheduler.core.explain import Placement, assemble
from almanac.scheduler.core.floor_hint import reach_both
from almanac.scheduler.core.floors import Floors, Measure, measure
from almanac.scheduler.core.greedy import greedy_placement
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.hints import hint_values, objective_of

from .helpers import at, make_problem

ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"]
# Mondays and Fridays around the 2025 clock changes, plus an ordinary week.
FIRST_DAYS = [date(2025, 3, 7), date(2025, 3, 28), date(2025, 10, 24), date(2025, 6, 2)]
# Small instances and a 0.4 s solver limit keep each example fast; the caps keep the file
# well under a minute. No example database: nothing is written to the tree.
FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    first = draw(st.sampled_from(FIRST_DAYS))
    days = draw(st.integers(1, 4))

    def moment(day_hi: int) -> datetime:
        day = first + timedelta(days=draw(st.integers(0, day_hi)))
        clock = time(draw(st.integers(7, 18)), 5 * draw(st.integers(0, 11)))
        return datetime.combine(day, clock, tzinfo=tz)

    now = datetime.combine(
        first, time(draw(st.integers(6, 12)), draw(st.integers(0, 59))), tzinfo=tz
    )
    busy = []
    for _ in range(draw(st.integers(0, 5))):
        start = moment(days)
        busy.append(Interval(start, start + timedelta(minutes=5 * draw(st.integers(3, 30)))))
    tasks: list[Task] = []
    for i in range(draw(st.integers(1, 10))):
        minutes = 15 * draw(st.integers(1, 16))
        splittable = draw(st.booleans())
        deadline = moment(days + 1) if draw(st.booleans()) else None
        earliest = moment(days) if draw(st.booleans()) else None
        if earliest is not None and deadline is not None and earliest >= deadline:
            earliest = None
        pinned: tuple[Interval, ...] = ()
        if draw(st.integers(0, 5)) == 0:  # a user-pinned piece, possibly off the slot grid
            pin = moment(days)
            pinned = (Interval(pin, pin + timedelta(minutes=15 * draw(st.integers(1, 2)))),)
            minutes = max(minutes, 30)
        tasks.append(
            Task(
                f"t{i}",
                f"Task {i}",
                minutes,
                priority=draw(st.integers(1, 5)),
                pinned=pinned,
                splittable=splittable,
                min_chunk_minutes=15 * draw(st.integers(1, 4)) if splittable else None,
                max_chunk_minutes=15 * draw(st.integers(4, 8)) if splittable else None,
                earliest_start=earliest,
                deadline=deadline,
                hard_deadline=deadline is not None and draw(st.booleans()),
                depends_on=tuple(draw(st.sets(st.sampled_from([t.id for t in tasks]), max_size=2)))
                if tasks
                else (),
                billable=draw(st.booleans()),
                tags=("deep",) if draw(st.booleans()) else (),
            )
        )
    return Problem(
        tasks=tuple(tasks),
        now=now,
        horizon_start=now,
        horizon_end=datetime.combine(first + timedelta(days=days), time(0), tzinfo=tz),
        timezone=str(tz),
        busy=tuple(busy),
        preferred_windows=tuple(PreferredWindow(d, time(9), time(11), 10, "deep") for d in range(5))
        if draw(st.booleans())
        else (),
        buffer_minutes=draw(st.sampled_from([0, 0, 5, 15])),
        daily_max_minutes=draw(st.none() | st.sampled_from([120, 240, 360])),
        weekly_capacity_hours=draw(st.none() | st.sampled_from([4.0, 10.0])),
        # A sprint's capacity for one week of the horizon only.
        capacity_by_week=draw(
            st.just(())
            | st.sampled_from([0, 7]).map(
                lambda d: ((first - timedelta(days=first.weekday()) + timedelta(days=d), 3.0),)
            )
        ),
        billable_share_target=draw(st.none() | st.just(0.6)),
        time_limit_seconds=0.4,
    )


def _hints_are_feasible(problem: Problem) -> None:
    """Both greedy placements, fixed into the CP-SAT model, must satisfy every constraint."""
    grid = build_grid(problem)
    builder = ModelBuilder(grid)
    builder.build()
    selected = {t for t, p in grid.plans.items() if p.cause is None and p.task.priority >= 3}
    for placement, _ in (greedy_placement(grid), greedy_placement(grid, first=selected)):
        assert_a_feasible_assignment(builder, placement)


def _greedy_objective(problem: Problem) -> float:
    grid = build_grid(problem)
    builder = ModelBuilder(grid)
    builder.build()
    placement, _ = greedy_placement(grid)
    return objective_of(builder, hint_values(builder, placement)) / builder.scale


def _weighted(problem: Problem, schedule: Schedule) -> float:
    priority = {t.id: t.priority for t in problem.tasks}
    return sum(b.minutes * priority[b.task_id] for b in schedule.blocks)


def _met(problem: Problem, schedule: Schedule) -> int:
    ends = {b.task_id: b.end for b in schedule.blocks}  # blocks come in time order
    placed = {t.id: sum(b.minutes for b in schedule.blocks_for(t.id)) for t in problem.tasks}
    return sum(
        1
        for t in problem.tasks
        if t.deadline is not None
        and t.deadline < problem.horizon_end
        and placed[t.id] >= t.duration_minutes
        and ends[t.id] <= t.deadline
    )


def _all_or_nothing(problem: Problem, schedule: Schedule) -> None:
    unplaced = {u.task_id for u in schedule.unplaced}
    for task in problem.tasks:
        placed = sum(b.minutes for b in schedule.blocks_for(task.id))
        assert (task.id in unplaced) == (placed < task.duration_minutes), task.id
        assert placed in (0, task.duration_minutes) or task.pinned, task.id


@FAST
@given(problems())
def test_every_schedule_is_valid_and_cp_sat_is_no_worse_than_greedy(problem: Problem) -> None:
    _hints_are_feasible(problem)
    greedy = greedy_schedule(problem)
    assert validate(problem, greedy) == []
    _all_or_nothing(problem, greedy)
    schedule = solve(problem)
    assert schedule.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert validate(problem, schedule) == []
    _all_or_nothing(problem, schedule)
    assert schedule.objective_value is not None
    # Never less priority-weighted work than either baseline; the objective beats EDF's
    # whenever EDF itself places the most work (then its placement is a feasible hint).
    work = _weighted(problem, schedule)
    edf, by_priority = greedy_schedule(problem, "edf"), greedy_schedule(problem, "priority")
    assert work >= max(_weighted(problem, edf), _weighted(problem, by_priority)) - 1e-6
    # The deadline floor is claimed reached exactly when the answer meets as many deadlines as
    # the best baseline (recounted here, fixed blocks included on both sides).
    own = greedy_schedule(problem, "edf-own")
    best_met = max(_met(problem, edf), _met(problem, by_priority), _met(problem, own))
    hours, deadlines = schedule.floors
    assert hours.reached
    assert deadlines.reached == (_met(problem, schedule) >= best_met) or not deadlines.floor
    assert deadlines.reached or deadlines.why
    # Whatever the time allowed, the shortfall reported is the shortfall recounted here: a task
    # whose pinned piece already ends after its deadline counts on neither side.
    if deadlines.floor:
        assert deadlines.floor - deadlines.value == best_met - _met(problem, schedule)
    if _weighted(problem, edf) >= _weighted(problem, by_priority):
        assert schedule.objective_value >= _greedy_objective(problem) - 1e-6
    assert schedule.best_bound is not None
    assert schedule.best_bound >= schedule.objective_value - 1e-6


@settings(FAST, max_examples=25)
@given(problems(), st.integers(0, 6), st.sampled_from([0.0, 1.0, 3.0]), st.data())
def test_replanning_stays_valid_and_keeps_frozen_blocks(
    problem: Problem, hours_later: int, frozen: float, data: st.DataObject
) -> None:
    first = solve(problem)
    later = problem.now + timedelta(hours=hours_later)
    if later >= problem.horizon_end:
        return
    start = data.draw(st.sampled_from([b.start for b in first.blocks] or [later]))
    meeting = Interval(start, start + timedelta(hours=1))
    replanned = replace(
        problem,
        now=later,
        horizon_start=later,
        busy=problem.busy + (meeting,),
        previous=first.blocks,
        frozen_hours=frozen,
    )
    for solver in (solve, greedy_schedule):
        schedule = solver(replanned)
        assert validate(replanned, schedule) == []  # includes "frozen blocks were not moved"


@st.composite
def crowded(draw: st.DrawFn) -> Problem:
    """More work than one or two office days hold, most of it due inside them: the baselines
    leave work out or finish it late, so the moves towards both floors have work to do."""
    days = draw(st.integers(1, 2))
    tasks: list[Task] = []
    for i in range(draw(st.integers(4, 9))):
        due = draw(st.integers(0, 9)) < 7
        deadline = at(draw(st.integers(0, days - 1)), draw(st.integers(10, 17))) if due else None
        splittable = draw(st.booleans())
        tasks.append(
            Task(
                f"t{i}",
                f"Task {i}",
                30 * draw(st.integers(2, 10)),
                priority=draw(st.integers(1, 3)),
                deadline=deadline,
                hard_deadline=due and draw(st.integers(0, 4)) == 0,
                splittable=splittable,
                min_chunk_minutes=30 if splittable else None,
                max_chunk_minutes=120 if splittable else None,
                depends_on=tuple(draw(st.sets(st.sampled_from([t.id for t in tasks]), max_size=1)))
                if tasks
                else (),
            )
        )
    return make_problem(
        tasks,
        days=days,
        buffer_minutes=draw(st.sampled_from([0, 15])),
        daily_max_minutes=draw(st.none() | st.just(6 * 60)),
        time_limit_seconds=0.4,
    )


@settings(FAST, max_examples=40)
@given(crowded())
def test_the_moves_towards_both_floors_keep_every_placement_valid(problem: Problem) -> None:
    # Floors out of reach (more work than all the tasks hold, more deadlines than there are):
    # the moves (`floor_hint`) go on from every baseline until none helps or the tries run
    # out, taking out and putting back work. (Twice the baselines' best is not out of reach:
    # the moves sometimes more than double it.)
    grid = build_grid(problem)
    starts = {n: p for n, (p, _) in candidates(grid, 0.4).items()}
    plans = grid.plans.values()
    floors = Floors(
        work=sum(p.task.priority * p.remaining for p in plans) + 1,
        work_from="greedy",
        met=sum(p.deadline_in(grid.size) for p in plans) + 1,
        met_from="edf",
    )
    placement, reached = reach_both(grid, starts, floors, tries=300)
    assert not reached
    schedule = assemble(grid, placement, {}, SolveStatus.GREEDY, wall_time=0.0)
    assert validate(problem, schedule) == []
    _all_or_nothing(problem, schedule)

    # Each move brings it nearer to both floors: it is no further than the nearest start.
    def gap(m: Measure) -> float:
        return (floors.work - m.work) / floors.work + (floors.met - m.met) / floors.met

    nearest = min(gap(measure(grid, p)) for p in starts.values())
    assert gap(measure(grid, placement)) <= nearest + 1e-12
    # And it is a complete, feasible assignment of the CP-SAT model (a hint the search keeps).
    builder = ModelBuilder(grid)
    builder.build()
    assert_a_feasible_assignment(builder, placement)


def assert_a_feasible_assignment(builder: ModelBuilder, placement: Placement) -> None:
    """`placement`, fixed into the CP-SAT model, is a feasible assignment (a hint kept)."""
    model = builder.model.clone()
    for var, value in hint_values(builder, placement).values():
        model.add(model.get_int_var_from_proto_index(var.index) == value)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = 5
    solver.parameters.num_workers = 1
    assert solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
