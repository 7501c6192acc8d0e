"""One CP-SAT search of the scheduler's model from a complete hint, with the idle stop: it
ends when optimal, when the best solution has not improved for `Problem.idle_seconds`, or at
its time limit (`cpsat.solve` runs one or several)."""

from __future__ import annotations

import threading
import time

from ortools.sat.python import cp_model

from .cpsat_model import ModelBuilder
from .hints import Hint
from .model import Problem

# The least a search gets, even when building used the budget (see `Search`).
MIN_SEARCH_SECONDS = 0.5
# Above this many variables CP-SAT's presolve alone outlasts a 3 s budget (six weeks of 300
# tasks: ~6 s of probing); the hinted search finds good solutions without it.
_PRESOLVE_MAX_VARIABLES = 6000


class Progress(cp_model.CpSolverSolutionCallback):
    """Remembers when the objective last improved by at least one point."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.best: float | None = None
        self.last = time.perf_counter()

    def on_solution_callback(self) -> None:
        value = self.objective_value
        if self.best is None or value >= self.best + self.scale:
            self.last = time.perf_counter()
        if self.best is None or value > self.best:
            self.best = value


def _watch(
    solvers: list[cp_model.CpSolver],
    progress: Progress,
    idle: float,
    done: threading.Event,
    stopped: list[bool],
) -> None:
    while not done.wait(0.02):
        if progress.best is not None and time.perf_counter() - progress.last > idle:
            stopped.append(True)
            solvers[-1].stop_search()
            return


def _solve(
    solvers: list[cp_model.CpSolver], model: cp_model.CpModel, progress: Progress
) -> cp_model.CpSolverStatus:
    """Solve; a crash inside OR-Tools is retried once without presolve, then is UNKNOWN.

    OR-Tools 9.15's presolve may fail on a hint, now and then (`IndexError:
    absl::btree_map::at` from its SolutionCrush, google/or-tools#5288): it was a 500 for the
    schedule. Without presolve the hint is not crushed; should that fail too, the callers
    answer with the best baseline, as after a search that found nothing."""
    try:
        return solvers[-1].solve(model, progress)
    except (IndexError, RuntimeError):
        again = cp_model.CpSolver()
        again.parameters.copy_from(solvers[-1].parameters)
        again.parameters.cp_model_presolve = False
        solvers.append(again)
    try:
        return again.solve(model, progress)
    except (IndexError, RuntimeError):
        return cp_model.UNKNOWN


class Search:
    """One CP-SAT search of the builder's model from a complete hint."""

    def __init__(
        self,
        builder: ModelBuilder,
        problem: Problem,
        hint: Hint,
        seconds: float,
        floor_on: bool,
        step: int | None = None,
    ) -> None:
        """`step`: the least objective gain that counts as progress for the idle stop (one
        point by default; 1 for the searches that count kept blocks instead of points)."""
        model = builder.model
        model.clear_hints()  # type: ignore[no-untyped-call]
        for var, value in hint.values():
            model.add_hint(var, value)
        self.floor_on = floor_on
        self.solver = solver = cp_model.CpSolver()
        # The search keeps a floor even when building used the budget (a loaded machine): with
        # a complete hint CP-SAT reports it within tenths of a second, and a CP-SAT answer
        # (status, bound, gap) is worth the overrun; the idle stop ends it soon after.
        solver.parameters.max_time_in_seconds = max(MIN_SEARCH_SECONDS, seconds)
        solver.parameters.num_workers = problem.num_workers
        solver.parameters.random_seed = problem.random_seed
        # Probing took 1.5 s of presolve on two weeks of 50 tasks and never paid for itself.
        solver.parameters.cp_model_probing_level = 0
        if len(model.proto.variables) > _PRESOLVE_MAX_VARIABLES:
            solver.parameters.cp_model_presolve = False
        progress = Progress(builder.scale if step is None else step)
        done, stopped, solvers = threading.Event(), list[bool](), [solver]
        if problem.idle_seconds is not None:
            watcher = threading.Thread(
                target=_watch, args=(solvers, progress, problem.idle_seconds, done, stopped)
            )
            watcher.start()
        started = time.perf_counter()
        try:
            self.status = _solve(solvers, model, progress)
        finally:
            done.set()
        self.solver = solvers[-1]
        self.seconds = time.perf_counter() - started
        if self.status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"invalid CP-SAT model: {model.validate()}")
        self.why = _why(self.status, stopped)


def _why(status: cp_model.CpSolverStatus, stopped: list[bool]) -> str:
    if status == cp_model.OPTIMAL:
        return "optimal"
    if status == cp_model.INFEASIBLE:
        return "infeasible"
    return "no improvement" if stopped else "time limit"
