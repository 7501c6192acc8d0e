"""A dependent is never kept or placed before its dependency, or without it.

An outside harness left a plan whose `t3` kept its block while its dependency `t0` had none
(another plan's solve dropped `t0`); every replan of that plan then answered with `t3`
before `t0` and could not be applied. These are the pure-core halves of that story.
"""

from __future__ import annotations

from almanac.scheduler.core import Block, Interval, Schedule, SolveStatus, Task, solve, validate
from almanac.scheduler.core.greedy import greedy_schedule
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair_greedy import in_order, waiting_tasks

from .helpers import at, causes, checked, make_problem, spans


def _stuck() -> list[Task]:
    """`t0` has no block (an older run dropped it); `t3`, which needs it, kept its own."""
    return [
        Task("p1/t0", "Draft", 120, priority=1, deadline=at(2, 12)),
        Task("p1/t3", "Send", 60, depends_on=("p1/t0",), deadline=at(3, 12)),
        Task("p2/y", "Invoices", 120, priority=5),  # also without a block: waiting work
        Task("p1/x", "Notes", 60),
    ]


# Before Thursday only Wednesday 09:00-11:00 is free: room for t0 or y, not both.
_BUSY = (Interval(at(0, 8), at(2, 9)), Interval(at(2, 11), at(3, 9)))
_PREVIOUS = (Block("p1/t3", 0, at(3, 9), at(3, 10)), Block("p1/x", 0, at(3, 14), at(3, 15)))


def _order_ok(schedule: Schedule, task: str, dep: str) -> bool:
    """`task` is not placed, or placed after every block of `dep`, which is placed."""
    mine, theirs = schedule.blocks_for(task), schedule.blocks_for(dep)
    if not mine:
        return True
    return bool(theirs) and max(b.end for b in theirs) <= min(b.start for b in mine)


def test_a_replan_of_a_plan_left_with_a_dependent_but_no_dependency_repairs_it() -> None:
    for limit in (0.2, 2.0):
        problem = make_problem(_stuck(), previous=_PREVIOUS, busy=_BUSY, time_limit_seconds=limit)
        schedule = solve(problem)
        assert validate(problem, schedule) == []
        assert _order_ok(schedule, "p1/t3", "p1/t0")
        # t0 is not mere waiting work: t3, which the user had, needs it first.
        assert "p1/t0" not in waiting_tasks(build_grid(problem))
        # And the room there is for it goes to it: t3 stays where it was.
        assert spans(schedule, "p1/t0") == [("Wed 09:00", "11:00")]
        assert spans(schedule, "p1/t3") == [("Thu 09:00", "10:00")]


def test_waiting_work_nothing_placed_depends_on_stays_waiting() -> None:
    problem = make_problem(_stuck(), previous=_PREVIOUS[1:], busy=_BUSY)
    assert waiting_tasks(build_grid(problem)) >= {"p1/t0", "p1/t3", "p2/y"}


def test_in_order_takes_out_a_dependent_without_its_dependency_and_puts_it_back_after() -> None:
    tasks = [Task("p1/a", "A", 60), Task("p1/b", "B", 60, depends_on=("p1/a",))]
    grid = build_grid(make_problem(tasks, days=1))
    nine, ten = grid.floor_idx(at(0, 9)), grid.floor_idx(at(0, 10))
    hour = grid.floor_idx(at(0, 10)) - nine
    # b before a: b goes after a.
    fixed = in_order(grid, {"p1/a": [(ten, hour)], "p1/b": [(nine, hour)]})
    assert fixed["p1/a"] == [(ten, hour)]
    assert min(s for s, _ in fixed["p1/b"]) >= ten + hour
    # b without a: b goes (nothing to follow), a placement in order is left as it is.
    assert in_order(grid, {"p1/b": [(nine, hour)]}) == {}
    ordered = {"p1/a": [(nine, hour)], "p1/b": [(ten, hour)]}
    assert in_order(grid, ordered) == ordered


def test_a_dependency_is_never_placed_after_its_pinned_dependent() -> None:
    pin = (Interval(at(1, 9), at(1, 10)),)
    tasks = [
        Task("p1/t0", "Draft", 120),
        Task("p1/t3", "Send", 60, depends_on=("p1/t0",), pinned=pin),
    ]
    # Monday is all meetings: the only free time for t0 is after t3's pin.
    problem = make_problem(tasks, busy=(Interval(at(0, 8), at(0, 18)),), time_limit_seconds=1)
    for schedule in (checked(problem), checked(problem, greedy_schedule)):
        assert spans(schedule, "p1/t3") == [("Tue 09:00", "10:00")]
        assert schedule.blocks_for("p1/t0") == ()
        assert causes(schedule)["p1/t0"] == "no capacity in the horizon"
        detail = {u.task_id: u.detail for u in schedule.unplaced}["p1/t0"]
        assert "before p1/t3" in detail
    # With room on Monday, t0 goes there, before the pin.
    free = make_problem(tasks, busy=(Interval(at(0, 8), at(0, 12)),), time_limit_seconds=1)
    schedule = checked(free)
    assert max(b.end for b in schedule.blocks_for("p1/t0")) <= at(1, 9)


def test_the_validator_flags_a_dependency_placed_after_its_pinned_dependent() -> None:
    pin = Interval(at(1, 9), at(1, 10))
    tasks = [
        Task("p1/t0", "Draft", 60),
        Task("p1/t3", "Send", 60, depends_on=("p1/t0",), pinned=(pin,)),
    ]
    problem = make_problem(tasks)
    after = Schedule(
        (
            Block("p1/t3", 0, pin.start, pin.end, fixed=True),
            Block("p1/t0", 0, at(1, 11), at(1, 12)),
        ),
        (),
        SolveStatus.GREEDY,
    )
    kinds = [v.kind for v in validate(problem, after)]
    assert kinds == ["dependency_order"]
    before = Schedule(
        (Block("p1/t0", 0, at(0, 9), at(0, 10)), after.blocks[0]), (), SolveStatus.GREEDY
    )
    assert validate(problem, before) == []


def test_a_pin_where_new_work_first_may_go_does_not_hold_its_dependency_back() -> None:
    """A dependent pinned at the very start of the horizon leaves no time before it: its
    dependency goes after it, as the solver places it, and the validator accepts that
    (hypothesis found it flagged: a pin at 07:00 'now', office hours from 09:00)."""
    tasks = [
        Task("t0", "Draft", 15),
        Task("t5", "Send", 30, depends_on=("t0",), pinned=(Interval(at(0, 8), at(0, 8, 15)),)),
    ]
    problem = make_problem(tasks, time_limit_seconds=1)
    for schedule in (checked(problem), checked(problem, greedy_schedule)):
        assert schedule.blocks_for("t0"), schedule
    # One slot later, the pin leaves room before it on the grid: then the order holds.
    later = make_problem(tasks, horizon_start=at(0, 7, 45), now=at(0, 7, 45))
    late_dep = Schedule(
        (
            Block("t5", 0, at(0, 8), at(0, 8, 15), fixed=True),
            Block("t0", 0, at(0, 9), at(0, 9, 15)),
            Block("t5", 1, at(0, 9, 15), at(0, 9, 30)),
        ),
        (),
        SolveStatus.GREEDY,
    )
    assert [v.kind for v in validate(later, late_dep)] == ["dependency_order"]
