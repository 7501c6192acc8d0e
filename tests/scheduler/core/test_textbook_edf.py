"""Never worse than simple, against the textbook global EDF (each task by its own deadline):
on an overfull calendar it meets more deadlines than an EDF in which work without a deadline
inherits the urgency of what waits on it, and the deadline floor is the better of the two.
Figures are recounted here from the blocks, not taken from the solver."""

from __future__ import annotations

from dataclasses import replace

import pytest

from almanac.scheduler.core import Task, greedy_schedule

from .helpers import at, checked, make_problem
from .test_floors import met, weighted


def test_the_deadline_floor_is_the_textbook_edf_when_it_meets_more() -> None:
    # "prep" (no deadline, 4 h) only leads to "report", due Monday 12:00, which cannot be on
    # time whatever comes first. Inheriting that urgency puts prep first and makes "a" and
    # "b" late; by their own deadlines "a" and "b" go first and are on time. Everything fits
    # in the two days, so the weighted hours of every baseline tie.
    tasks = [
        Task("prep", "Prep", 240),
        Task("report", "Report", 60, deadline=at(0, 12), depends_on=("prep",)),
        Task("a", "A", 180, deadline=at(0, 13)),
        Task("b", "B", 180, deadline=at(0, 17, 30)),
    ]
    problem = make_problem(tasks, days=2)
    edf, greedy = greedy_schedule(problem, "edf"), greedy_schedule(problem, "priority")
    own = greedy_schedule(problem, "edf-own")
    assert met(problem, own) == 2 > max(met(problem, edf), met(problem, greedy))
    assert weighted(problem, own) == weighted(problem, greedy) == weighted(problem, edf)
    schedule = checked(problem)
    hours, deadlines = schedule.floors
    assert hours.reached and weighted(problem, schedule) >= weighted(problem, greedy)
    assert deadlines.baseline == "edf-own" and deadlines.floor == met(problem, own)
    assert deadlines.reached and met(problem, schedule) >= met(problem, own)
    assert deadlines.value == met(problem, schedule)


def test_an_edf_by_own_deadlines_still_waits_for_dependencies() -> None:
    # Textbook EDF still places a task only after its dependency: "write" (due Monday noon)
    # waits for "research" (no deadline), which is placed once it is the most urgent ready task.
    tasks = [
        Task("research", "Research", 120),
        Task("write", "Write", 60, deadline=at(0, 12), depends_on=("research",)),
        Task("other", "Other", 120, deadline=at(0, 17)),
    ]
    problem = make_problem(tasks, days=2)
    own = greedy_schedule(problem, "edf-own")
    blocks = {b.task_id: b for b in own.blocks}
    assert blocks["other"].start < blocks["research"].start < blocks["write"].start
    assert blocks["research"].end <= blocks["write"].start


def test_with_no_time_for_the_deadline_search_the_objective_still_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With too little time left for the search for the most deadlines, the last search ran
    with the objective the floor search had cleared: it "proved optimal" its hint, so an
    overfull calendar came back as a baseline (or as cp-sat's with objective 0), never
    optimised. The early exit is forced here; the answer must be CP-SAT's own, optimised."""
    from bench.sched_instances import make, specs

    from almanac.scheduler.core import cpsat, solve

    monkeypatch.setattr(cpsat, "_READ_SECONDS", 1e6)  # never time for the deadline search
    spec = next(s for s in specs(False) if s.name == "New_Yo-0302-1.3")
    problem = make(replace(spec, time_limit=3.0))
    schedule = solve(problem)
    deadlines = next(f for f in schedule.floors if f.measure == "deadlines met")
    assert not deadlines.reached  # the branch under test: no baseline reaches both floors
    assert schedule.source == "cp-sat" and (schedule.objective_value or 0) > 0, schedule.source
