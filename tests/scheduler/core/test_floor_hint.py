"""A starting placement that reaches both floors where no baseline does (`core/floor_hint.py`).

Figures are recounted here from the blocks (`test_floors.weighted`, `met`), each placement
checked by the independent validator."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from almanac.scheduler.core import Problem, SolveStatus, Task, floor_hint, greedy_schedule, validate
from almanac.scheduler.core.baselines import candidates
from almanac.scheduler.core.explain import Placement, assemble
from almanac.scheduler.core.floor_hint import reach_both
from almanac.scheduler.core.floors import Floors, floors_of, measure
from almanac.scheduler.core.greedy import greedy_placement
from almanac.scheduler.core.greedy_state import State
from almanac.scheduler.core.grid import build_grid

from .helpers import at, checked, make_problem
from .test_floors import met, weighted


def _problem() -> Problem:
    # One day, 09:00-17:30 (8.5 h) for 15 h of work. Greedy takes the priority-3 work first
    # (Report on time, then Deck, then Review late: one deadline met); EDF meets two (Call,
    # Review) with less priority-weighted work; no mix of the two does both. Call 09:00-10:00,
    # Report 10:00-13:00 and Build 13:00-17:00 does: 22 weighted h and 2 deadlines met.
    tasks = [
        Task("t0", "Deck", 120, priority=3),
        Task("t1", "Report", 180, priority=3, deadline=at(0, 14)),
        Task("t2", "Review", 180, priority=2, deadline=at(0, 13)),
        Task("t3", "Brief", 120, priority=1, deadline=at(0, 13)),
        Task("t4", "Build", 240, priority=3),
        Task("t5", "Call", 60, priority=1, deadline=at(0, 12)),
    ]
    return make_problem(tasks, days=1)


def _figures(problem: Problem, placement: Placement) -> tuple[float, int]:
    """Weighted hours and deadlines met of a placement, checked and recounted."""
    grid = build_grid(problem)
    schedule = assemble(grid, placement, {}, SolveStatus.GREEDY, wall_time=0.0)
    assert validate(problem, schedule) == []
    return weighted(problem, schedule), met(problem, schedule)


def test_a_starting_placement_reaches_both_floors_where_no_baseline_does() -> None:
    problem = _problem()
    greedy, edf = greedy_schedule(problem, "priority"), greedy_schedule(problem, "edf")
    hours, deadlines = weighted(problem, greedy), met(problem, edf)
    assert met(problem, greedy) < deadlines and weighted(problem, edf) < hours
    hints = {n: _figures(problem, p) for n, (p, _) in candidates(build_grid(problem), 5.0).items()}
    both = [n for n, (h, m) in hints.items() if h >= hours - 1e-9 and m >= deadlines]
    # The baselines and their mixes each miss one floor; the placement built for both does not.
    assert both == ["both-floors"], hints


def test_the_answer_keeps_both_floors_from_that_start() -> None:
    problem = _problem()
    greedy, edf = greedy_schedule(problem, "priority"), greedy_schedule(problem, "edf")
    schedule = checked(problem)
    assert weighted(problem, schedule) >= weighted(problem, greedy) - 1e-9
    assert met(problem, schedule) >= met(problem, edf)
    assert all(f.reached for f in schedule.floors)


def test_no_placement_is_built_when_a_baseline_already_reaches_both() -> None:
    # Room for everything: greedy and EDF both place all of it, EDF meets every deadline.
    tasks = [
        Task("a", "A", 60, priority=3),
        Task("b", "B", 60, deadline=at(0, 11)),
    ]
    problem = make_problem(tasks, days=1)
    assert "both-floors" not in candidates(build_grid(problem), 5.0)


def test_when_no_schedule_reaches_both_the_search_starts_from_the_nearest_placement() -> None:
    # One day of 8.5 h. Greedy places Build and Deck, then Call late (22.5 weighted h, no
    # deadline met); EDF meets two deadlines (Memo, Audit) with 8.5. Two deadlines met take
    # 3.5 h at least (Memo and Call), which leaves room for Build alone: 15.5 weighted h at
    # most, so no schedule reaches both floors. The placement the moves found is nearer to
    # both than any baseline, and the solver's search for both starts from it.
    tasks = [
        Task("t0", "Memo", 120, deadline=at(0, 13)),
        Task("t1", "Audit", 300, deadline=at(0, 16)),
        Task("t2", "Build", 240, priority=3),
        Task("t3", "Deck", 180, priority=3),
        Task("t4", "Call", 90, deadline=at(0, 16)),
    ]
    problem = make_problem(tasks, days=1)
    greedy, edf = greedy_schedule(problem, "priority"), greedy_schedule(problem, "edf")
    hours, deadlines = weighted(problem, greedy), met(problem, edf)

    def shortfall(figures: tuple[float, int]) -> float:
        h, m = figures
        return max(0.0, hours - h) / hours + max(0, deadlines - m) / deadlines

    hints = {n: _figures(problem, p) for n, (p, _) in candidates(build_grid(problem), 5.0).items()}
    assert "both-floors" not in hints
    near = shortfall(hints.pop("near-floors"))
    assert all(near < shortfall(figures) for figures in hints.values()), hints


def _crowded(seed: int, n: int = 60, days: int = 10) -> Problem:
    """Two working weeks asked for about one and a half times what fits (seeded): many
    deadlines, some dependencies, a daily maximum of 7 h."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        deadline = None
        if rng.random() < 0.6:
            deadline = at(rng.choice([d for d in range(1, days) if d % 7 < 5]), 17)
        deps = (f"t{rng.randrange(max(0, i - 10), i)}",) if i and rng.random() < 0.2 else ()
        tasks.append(
            Task(
                f"t{i}",
                f"task {i}",
                rng.choice([30, 45, 60, 90, 120, 180, 240]),
                priority=rng.randint(1, 5),
                deadline=deadline,
                depends_on=deps,
            )
        )
    return make_problem(tasks, days=days, daily_max_minutes=420)


def test_on_a_crowded_single_plan_the_moves_reach_both_floors_given_the_time() -> None:
    # One plan over demand: no baseline or mix reaches both floors, and the moves need more
    # than a fixed count of first-fit tries (2,000 stopped short here); bounded by time
    # alone (a share of a generous limit) they reach both.
    problem = _crowded(4)
    greedy, edf = greedy_schedule(problem, "priority"), greedy_schedule(problem, "edf")
    hours, deadlines = weighted(problem, greedy), met(problem, edf)
    hints = {
        n: _figures(problem, p) for n, (p, _) in candidates(build_grid(problem), 100.0).items()
    }
    both = [n for n, (h, m) in hints.items() if h >= hours - 1e-9 and m >= deadlines]
    assert both == ["both-floors"], hints


def test_a_start_below_both_floors_makes_room_for_work_left_out() -> None:
    # One day, 09:00-17:30 (34 quarter-hours), taken whole by Filler (priority 1): below the
    # work floor (Call and Build, priority 3) and the deadline floor (Call by 12:00) at once,
    # with nothing placed late. Only room made for the work left out helps: Build in Filler's
    # place, then Call in Build's way before noon, Build after it.
    tasks = [
        Task("x", "Filler", 510, priority=1),
        Task("a", "Call", 60, priority=3, deadline=at(0, 12)),
        Task("b", "Build", 420, priority=3),
    ]
    problem = make_problem(tasks, days=1, now=at(0, 9))
    grid = build_grid(problem)
    start = {"x": [(grid.plans["x"].lo, grid.plans["x"].remaining)]}
    floors = Floors(work=3 * 4 + 3 * 28, work_from="greedy", met=1, met_from="edf")
    assert not floors.reached_by(measure(grid, start))
    placement, reached = reach_both(grid, {"start": start}, floors)
    assert reached
    assert _figures(problem, placement) == (3 * 1 + 3 * 7, 1)


def test_no_first_fit_try_starts_after_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The deadline was read only before each move, and one move on a crowded plan makes
    # many tries: up to a tenth of a second past "10% of the time limit". The clock here
    # advances one unit per try, so the deadline is a count of tries that may start.
    problem = _crowded(4)
    grid = build_grid(problem)
    starts = {
        "edf": greedy_placement(grid)[0],
        "greedy": greedy_placement(grid, by_priority=True)[0],
    }
    floors = floors_of({n: measure(grid, p) for n, p in starts.items()})
    started: list[int] = []
    original = State.first_fit

    def first_fit(self: State, *args: Any) -> Any:
        started.append(len(started))
        return original(self, *args)

    monkeypatch.setattr(State, "first_fit", first_fit)
    for deadline in (50, 120, 333):
        started.clear()
        placement, reached = reach_both(
            grid, starts, floors, deadline=deadline, clock=lambda: float(len(started))
        )
        assert not reached  # the moves need thousands of tries here
        assert len(started) == deadline  # every try before it, none after
        _figures(problem, placement)  # a valid placement (a cut move was undone or kept)
        nearest = min(floors.shortfall(measure(grid, p)) for p in starts.values())
        assert floors.shortfall(measure(grid, placement)) <= nearest


def _bench_instance(n: int, load: float, seed: int) -> Problem:
    """One of the scheduler benchmark's single-plan instances (`bench/sched_single.py`)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from sched_single import make_instance

    return make_instance(n, load, seed)


def test_from_the_deadlines_side_the_moves_reach_both_floors_where_the_weighed_ones_stall() -> None:
    # The benchmark's 100 tasks at 1.5x capacity, seed 1: no baseline or mix reaches both
    # floors, and the moves that weigh both shortfalls at once trade deadlines for work and
    # back; in the same number of first-fit tries, moves that keep EDF's deadline count and
    # only add work reach both (the start: the placement meeting it with the most work).
    problem = _bench_instance(100, 1.5, 1)
    grid = build_grid(problem)
    deterministic = ("edf", "greedy", "combined", "combined-priority", "greedy-edf")
    # A time limit too short for any move: the baselines and mixes alone.
    starts = {n: p for n, (p, _) in candidates(grid, 0.001).items() if n in deterministic}
    assert set(starts) == set(deterministic)
    greedy, edf = greedy_schedule(problem, "priority"), greedy_schedule(problem, "edf")
    hours, deadlines = weighted(problem, greedy), met(problem, edf)
    figures = {n: _figures(problem, p) for n, p in starts.items()}
    assert not [n for n, (h, m) in figures.items() if h >= hours - 1e-9 and m >= deadlines]
    floors = floors_of({n: measure(grid, p) for n, p in starts.items()})
    _, reached = reach_both(grid, starts, floors, tries=8000)
    assert not reached
    held, reached = floor_hint.hold_deadlines(grid, starts, floors, tries=8000)
    assert reached
    h, m = _figures(problem, held)
    assert h >= hours - 1e-9 and m >= deadlines, (h, m, hours, deadlines)
