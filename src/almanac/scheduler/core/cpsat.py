"""Solve with CP-SAT, warm-started from the baselines; return the best answer found.

The baselines (`baselines.candidates`: EDF, a priority-first greedy, mixes of the two, and one
built by local moves to reach both floors when none of them does) are hints and fallbacks; the model
keeps the floors they set (see `floors`). The search stops when optimal, when the best
solution has not improved for `Problem.idle_seconds`, or at the time limit.
A replan is a repair first (see `repair`): only what the change broke moves.
"""

from __future__ import annotations

import time
from collections.abc import Set
from dataclasses import replace
from typing import Any

from ortools.sat.python import cp_model

from . import floors as fl
from . import repair as rp
from . import repair_greedy as rg
from .baselines import candidates, plain_floors
from .cpsat_model import ModelBuilder
from .explain import Placement, assemble
from .grid import Grid, build_grid
from .hints import Hint, hint_values, objective_of
from .model import Problem, Schedule, SolveStatus
from .search import MIN_SEARCH_SECONDS, Search

# Left for turning the solution into blocks, so the whole call stays within the time limit.
_MARGIN_SECONDS = 0.05
# When no baseline reaches both floors: the share of the time left spent looking for a
# schedule of greedy's tasks that does, then, when none is found, the share of the time
# left spent on the most deadlines met with the work floor held (see `floors.hold_met`),
# before the documented objective decides.
_FLOOR_SEARCH_SHARE = 0.3
_MOST_MET_SHARE = 0.5
_READ_SECONDS = 0.25  # reading and measuring a search's answer, rebuilding the hint


def _repairs_reach(
    grid: Grid, floors: fl.Floors, kept: Set[str], followers: Set[str], waiting: Set[str]
) -> bool:
    """Whether a simple repair of the calendar reaches `floors` (both measures)."""
    repairs = rg.simple_repair(grid, kept, followers, set(waiting))
    return any(floors.reached_by(fl.measure(grid, p)) for p in repairs.values())


def _without(grid: Grid, placement: Placement, tids: Set[str]) -> Placement:
    """`placement` without `tids` and what depends on them: a hint keeping a dependent of
    work the search leaves out breaks the model's dependencies (and, returned as the
    answer, put the dependent before its dependency or without it)."""
    gone = set(tids) | rg.dependents(grid, tids)
    return {t: c for t, c in placement.items() if t not in gone}


def _repair_or_full(problem: Problem, plain: fl.Floors, started: float) -> Schedule:
    """Scheduling new work is never worse than simple: the plain baselines over every plan
    at once. When no simple repair of the calendar reaches them, the repair (which may move
    blocks for the new work) gets half the time; if it still falls short, the whole calendar
    is re-optimised with the rest, other plans' blocks moving at the stability cost, and the
    better answer is returned (the repair when they tie: it moves less)."""
    total = problem.time_limit_seconds
    half = replace(problem, time_limit_seconds=total / 2)
    grid = build_grid(half)
    kept = rp.kept_tasks(grid)
    sets = (kept, rp.follower_tasks(grid, kept), rg.waiting_tasks(grid))
    repair = _solve(half, started, grid, sets)
    hours = problem.slot_minutes / 60
    floors = (plain.work * hours, float(plain.met))
    left = total - (time.perf_counter() - started)
    if _reaches(repair, floors) or left < MIN_SEARCH_SECONDS:
        return repair
    whole = replace(problem, replan_scope="full", time_limit_seconds=left)
    full = _solve(whole, time.perf_counter(), build_grid(whole), (set(), set(), set()))
    full = replace(full, wall_time_seconds=time.perf_counter() - started)
    ranked = {name: (_reaches(s, floors), *_figures(s)) for name, s in (("r", repair), ("f", full))}
    return full if ranked["f"] > ranked["r"] else repair


def _figures(schedule: Schedule) -> tuple[float, float]:
    """The answer's weighted hours and deadlines met, as its floors report them."""
    got = {f.measure: f.value for f in schedule.floors}
    return got.get("weighted hours", 0.0), got.get("deadlines met", 0.0)


def _reaches(schedule: Schedule, floors: tuple[float, float]) -> bool:
    work, met = _figures(schedule)
    return work >= floors[0] - 1e-9 and met >= floors[1]


def solve(problem: Problem) -> Schedule:
    """Schedule `problem` with CP-SAT in about `problem.time_limit_seconds` (build included;
    the search itself gets at least half a second).

    Never worse than simple (see `floors`): the answer places at least the priority-weighted
    work of a priority-first greedy and meets at least the deadlines of a global EDF whenever
    one schedule can do both; `Schedule.floors` says which floors were reached and why not.
    If CP-SAT finds nothing better in time, the best baseline is returned (status
    GREEDY_FALLBACK when CP-SAT found nothing at all); `Schedule.source` says which answer.
    """
    started = time.perf_counter()
    grid = build_grid(problem)
    kept = rp.kept_tasks(grid) if problem.replan_scope == "repair" else set()
    followers = rp.follower_tasks(grid, kept) if kept else set()
    waiting = rg.waiting_tasks(grid) if kept else set()
    if kept and problem.new_tasks:
        plain = plain_floors(grid)
        if not _repairs_reach(grid, plain, kept, followers, waiting):
            return _repair_or_full(problem, plain, started)
    return _solve(problem, started, grid, (kept, followers, waiting))


def _solve(
    problem: Problem, started: float, grid: Grid, repair: tuple[set[str], set[str], set[str]]
) -> Schedule:
    kept, followers, waiting = repair
    hints = candidates(grid, problem.time_limit_seconds, kept, followers, waiting)
    builder = ModelBuilder(grid)
    builder.build()
    holds = rp.Holds(builder, kept, followers)
    valued = problem.weights.missed_deadline > 0
    full = {name: fl.measure(grid, placement) for name, (placement, _) in hints.items()}
    simple = fl.floors_of(full, valued=valued)
    # Replanning: the baselines that are repairs; the floors never ask more than the best.
    repairs = {n for n in hints if rp.is_repair(grid, kept, hints[n][0], followers)}
    finish = rg.Finish(grid, kept, followers, waiting, bool(repairs))
    waiting_out = builder.model.new_bool_var("waiting_out")
    fl.switch(builder, waiting_out, on=True)
    if repairs:
        # Waiting work is placed after the search, in free time only (`repair_greedy.Finish`).
        hints = {n: (_without(grid, p, waiting), c) for n, (p, c) in hints.items()}
        for tid in waiting:
            builder.model.add(builder.tasks[tid].placed == 0).only_enforce_if(waiting_out)
        for tid in rp.unearned(builder, [hints[n][0] for n in repairs]):
            builder.model.add(builder.tasks[tid].missed == 1)
    else:
        holds.free_followers()
    measures = {name: fl.measure(grid, placement) for name, (placement, _) in hints.items()}
    floors = fl.floors_of(measures, valued=valued)
    if repairs:
        top = max(repairs, key=lambda n: (measures[n].work, measures[n].met))
        floors = fl.for_repair(floors, measures[top])
    reached = {n for n in hints if floors.reached_by(measures[n])}
    repairs &= reached
    switch = fl.add_floors(builder, floors)
    only = fl.restriction(builder, set(hints[floors.work_from][0]))
    # Complete assignments only where needed (each costs a walk over the whole model): the
    # placements that keep the work floor, and the one nearest to both floors.
    keep = [n for n in hints if measures[n].work >= floors.work]
    values = {
        name: hint_values(builder, hints[name][0]) for name in {*keep, fl.nearest(floors, measures)}
    }
    for name, v in values.items():
        v[only.index] = (only, 0)
        holds.hint(v, hints[name][0])
        if switch is not None:
            v[switch.index] = (switch, int(name in reached))
    fl.switch(builder, only, on=False)
    scores = {n: objective_of(builder, values[n]) for n in keep}
    # The best baseline that keeps the work floor: the hint when none reaches both floors.
    # When replanning, the best among repairs (see `repair`) if one reaches both floors.
    best = max(scores, key=lambda n: (n in reached, n in repairs, scores[n], n == "edf"))

    # The search for the most deadlines met with the work floor: `most` found, or `skipped`.
    searched: dict[str, Any] = {}

    def outcome(search: Search, hint: str, proven: bool) -> Schedule:
        status, solver = search.status, search.solver
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
            (search.floor_on and hint not in reached) or solver.objective_value >= scores[hint]
        ):
            placement, source = finish(builder.extract(solver), "cp-sat")
            answer = fl.measure(grid, placement)
            # Replaced by the simple repair: the search's figures are not about the answer.
            own = source == "cp-sat"
            return assemble(
                grid,
                placement,
                {},
                SolveStatus.OPTIMAL if own and status == cp_model.OPTIMAL else SolveStatus.FEASIBLE,
                wall_time=time.perf_counter() - started,
                objective=solver.objective_value / builder.scale if own else None,
                bound=solver.best_objective_bound / builder.scale if own else None,
                solver_status=solver.status_name(status),
                source=source,
                stopped=search.why,
                floors=fl.report(grid, simple, full, answer, proven, bool(repairs), **searched)
                + finish.floors(answer),
                scope=holds.scope(placement),
            )
        # A baseline the search did not reach (its hint rejected, or stopped early) still wins.
        placement, source = finish(hints[hint][0], hint)
        causes = hints[hint][1]
        answer = fl.measure(grid, placement)
        solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        # The search's bound holds for the hint, a solution of the same model (a search
        # stopped early may report less than it); never one below the answer.
        bound: float | None = None
        if solved and source == hint and solver.best_objective_bound >= scores[hint]:
            bound = solver.best_objective_bound
        return assemble(
            grid,
            placement,
            causes,
            SolveStatus.FEASIBLE if solved else SolveStatus.GREEDY_FALLBACK,
            wall_time=time.perf_counter() - started,
            objective=scores[hint] / builder.scale if solved and source == hint else None,
            bound=bound / builder.scale if bound is not None else None,
            solver_status=solver.status_name(status),
            source=source,
            stopped=search.why,
            floors=fl.report(grid, simple, full, answer, proven, bool(repairs), **searched)
            + finish.floors(answer),
            scope=holds.scope(placement),
        )

    def left() -> float:
        return problem.time_limit_seconds - (time.perf_counter() - started) - _MARGIN_SECONDS

    def held_search(hint: Hint, floor_on: bool) -> Search:
        """Search with the holds as set; then, if that left out held work, search again with
        that work free to go elsewhere (the rest still held), and keep the better answer."""
        search = Search(builder, problem, hint, left(), floor_on)
        if search.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return search
        placement = builder.extract(search.solver)
        dropped = holds.dropped(placement)
        if not dropped or left() < MIN_SEARCH_SECONDS:
            return search
        holds.release(dropped)
        on = switch is not None and search.solver.boolean_value(switch)
        again = Search(builder, problem, complete(placement, on), left(), floor_on)
        if again.status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
            again.solver.objective_value > search.solver.objective_value
        ):
            return again
        return search

    def complete(placement: Placement, floor_on: bool) -> Hint:
        values = hint_values(builder, placement)
        values[only.index] = (only, 0)
        if switch is not None:
            values[switch.index] = (switch, int(floor_on))
        holds.hint(values, placement)
        return values

    def improve(search: Search) -> tuple[Search, tuple[str, ...]]:
        """A repair that lost what the previous schedule had (a task's place, a deadline met)
        or moved blocks the change did not hit (followers, displaced work): search every
        schedule that keeps all the repair has and moves no more blocks than the items it
        wins back pay for (`repair.Restore`), by the objective, from the repair itself (a
        feasible start: the bound holds however early the search stops). Returns the better
        answer and the tasks it won back (none: the repair stands)."""
        if search.status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return search, ()
        # What the repair has includes the waiting work it leaves room for: widening keeps it.
        repair = finish.fill(builder.extract(search.solver))
        restore = rp.Restore(builder, repair)
        if not (restore.lost or restore.moved_more_than_hit()) or left() < MIN_SEARCH_SECONDS:
            return search, ()
        restore.add()
        holds.widen()
        fl.switch(builder, waiting_out, on=False)
        start = complete(repair, True)
        start[waiting_out.index] = (waiting_out, 0)
        wide = Search(builder, problem, start, left(), True)
        if wide.status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
            wide.solver.objective_value > objective_of(builder, start)
        ):
            return wide, restore.won(builder.extract(wide.solver))
        return search, ()

    if switch is None or best in reached:
        if switch is not None:
            fl.switch(builder, switch, on=True)
        # Replanning: what the hint keeps where it was stays there (or is left out).
        holds.hold(hints[best][0])
        answer = held_search(values[best], True)
        won: tuple[str, ...] = ()
        if best in repairs:
            answer, won = improve(answer)
        done = outcome(answer, best, False)
        # What the widened search won back, only if its answer is the one returned.
        return replace(done, restored=won if done.source == "cp-sat" else ())
    # No baseline reaches both floors: look for a schedule that does, from the nearest mix.
    # A pure feasibility search finds one far sooner than one that also optimises; what it
    # finds is then the hint of the optimising search.
    # It looks among schedules placing exactly the tasks of the baseline that set the work
    # floor (so that floor holds by construction; only the timing is left to find).
    near = fl.nearest(floors, measures)
    fl.switch(builder, switch, on=True)
    fl.switch(builder, only, on=True)
    # When replanning, it still keeps as many previous blocks as it can (stability is all
    # that is asked of it): a bare feasibility search would move most of the calendar.
    same = [var for tv in builder.tasks.values() for _, _, var in tv.same]
    if same:
        builder.model.maximize(cp_model.LinearExpr.sum(same))
    else:
        builder.model.clear_objective()  # type: ignore[no-untyped-call]
    first = Search(builder, problem, values[near], left() * _FLOOR_SEARCH_SHARE, True, step=1)
    fl.switch(builder, only, on=False)
    proven = first.status == cp_model.INFEASIBLE
    if first.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        builder.refresh_objective()
        placement = builder.extract(first.solver)
        holds.hold(placement)
        return outcome(held_search(complete(placement, True), True), near, False)
    # With any tasks: the most deadlines met with the work floor held, by a search counting
    # only them (it climbs where a bare feasibility search for the deadline floor finds
    # nothing), from the baseline keeping the work floor that meets the most. Reaching the
    # deadline floor, both hold; short of it, the most met is the deadline floor from then on
    # and the documented objective decides above it.
    fl.switch(builder, switch, on=False)
    if left() < 2 * MIN_SEARCH_SECONDS + _READ_SECONDS:  # no time for both: the objective
        builder.refresh_objective()  # decides (the floor search's stood in for it)
        searched["skipped"] = True
        holds.hold(hints[best][0])
        return outcome(held_search(values[best], False), best, proven)
    fl.seek_most_met(builder)
    top = max(keep, key=lambda n: (measures[n].met, scores[n]))
    free = replace(problem, idle_seconds=None)  # it climbs in bursts: no idle stop
    # What it finds is read and measured before the last search, which needs its minimum.
    share = min(left() * _MOST_MET_SHARE, left() - MIN_SEARCH_SECONDS - _READ_SECONDS)
    most = Search(builder, free, values[top], share, False, step=1)
    builder.refresh_objective()
    start, met = hints[top][0], measures[top].met
    if most.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = builder.extract(most.solver)
        if fl.measure(grid, found).met > met:
            start, met = found, fl.measure(grid, found).met
    searched["most"] = met
    if met >= floors.met:
        fl.switch(builder, switch, on=True)
        holds.hold(start)
        return outcome(held_search(complete(start, True), True), near, False)
    if met > measures[best].met:
        fl.hold_met(builder, met)
        holds.hold(start)
        return outcome(held_search(complete(start, False), True), top, proven)
    # No more deadlines than the best baseline: the documented objective decides.
    holds.hold(hints[best][0])
    return outcome(held_search(values[best], False), best, proven)
