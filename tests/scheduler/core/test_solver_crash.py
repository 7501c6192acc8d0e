"""A crash inside OR-Tools is no crash of the schedule, and a search that reports less than
its hint still gives the answer's bound.

OR-Tools 9.15's presolve now and then fails on a hint (`IndexError: absl::btree_map::at`,
google/or-tools#5288; seen once in 150 runs of the property test): the schedule was a 500.
The library's failure is imitated here by making its `solve` raise as it did.
"""

from __future__ import annotations

from typing import Any

import pytest
from ortools.sat.python import cp_model

from almanac.scheduler.core import SolveStatus, Task

from .helpers import at, checked, make_problem

real_solve = cp_model.CpSolver.solve


def _problem():
    tasks = [
        Task("a", "Draft", 120, priority=3, deadline=at(0, 17)),
        Task("b", "Review", 60, depends_on=("a",), deadline=at(1, 12)),
        Task("c", "Invoices", 90, priority=2),
    ]
    return make_problem(tasks, days=2, time_limit_seconds=2.0)


def test_a_crashed_solve_is_tried_again_without_presolve(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def flaky(self: cp_model.CpSolver, model: cp_model.CpModel, *args: Any) -> Any:
        calls.append(self.parameters.cp_model_presolve)
        if len(calls) == 1:
            raise IndexError("absl::btree_map::at")
        return real_solve(self, model, *args)

    monkeypatch.setattr(cp_model.CpSolver, "solve", flaky)
    schedule = checked(_problem())
    assert calls[:2] == [True, False]  # the retry ran without presolve
    assert schedule.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert {b.task_id for b in schedule.blocks} == {"a", "b", "c"}


def test_a_solver_that_always_crashes_gives_the_best_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: cp_model.CpSolver, model: cp_model.CpModel, *args: Any) -> Any:
        raise IndexError("absl::btree_map::at")

    monkeypatch.setattr(cp_model.CpSolver, "solve", broken)
    schedule = checked(_problem())
    assert schedule.status == SolveStatus.GREEDY_FALLBACK
    assert {b.task_id for b in schedule.blocks} == {"a", "b", "c"}


def test_a_baseline_that_beats_the_search_is_answered_with_the_searchs_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A search stopped early (a loaded machine, a 0.4 s limit) may report less than the
    # baseline it was hinted with: the baseline is the answer, and its gap was left unknown
    # (no bound), though the search's bound holds for it (seen in the property test).
    monkeypatch.setattr(cp_model.CpSolver, "objective_value", property(lambda self: -1e18))
    schedule = checked(_problem())
    assert schedule.status == SolveStatus.FEASIBLE and schedule.source != "cp-sat"
    assert schedule.objective_value is not None and schedule.best_bound is not None
    assert schedule.best_bound >= schedule.objective_value
