"""Never worse than simple: the answer reaches the weighted hours of a priority-first greedy and
the deadlines met of a global EDF when one schedule can, and says which floor it missed when
none can. Figures are recounted here from the blocks, not taken from the solver."""

from __future__ import annotations

from collections import defaultdict

from almanac.scheduler.core import Interval, Problem, Schedule, Task, greedy_schedule

from .helpers import at, checked, make_problem


def weighted(problem: Problem, schedule: Schedule) -> float:
    priority = {t.id: t.priority for t in problem.tasks}
    return sum(b.minutes / 60 * priority[b.task_id] for b in schedule.blocks)


def met(problem: Problem, schedule: Schedule) -> int:
    placed: dict[str, float] = defaultdict(float)
    for b in schedule.blocks:
        placed[b.task_id] += b.minutes
    return sum(
        1
        for t in problem.tasks
        if t.deadline is not None
        and placed[t.id] >= t.duration_minutes
        and max(b.end for b in schedule.blocks_for(t.id)) <= t.deadline
    )


def test_both_floors_are_reached_when_one_schedule_can() -> None:
    # Greedy puts the big priority-3 job first on Monday and makes the small ones late; EDF
    # meets all three deadlines and places the big job on Tuesday.
    tasks = [
        Task("big", "Big", 300, priority=3),
        Task("a", "A", 90, deadline=at(0, 11)),
        Task("b", "B", 90, deadline=at(0, 12, 30)),
        Task("c", "C", 60, priority=2, deadline=at(0, 17, 30)),
    ]
    problem = make_problem(tasks, days=2, daily_max_minutes=8 * 60)
    edf, greedy = greedy_schedule(problem, "edf"), greedy_schedule(problem, "priority")
    assert met(problem, greedy) < met(problem, edf)
    schedule = checked(problem)
    assert weighted(problem, schedule) >= weighted(problem, greedy) - 1e-9
    assert met(problem, schedule) >= met(problem, edf)
    hours, deadlines = schedule.floors
    assert hours.measure == "weighted hours" and hours.reached
    assert deadlines.measure == "deadlines met" and deadlines.reached
    assert deadlines.value == met(problem, schedule) and deadlines.why == ""


def test_when_no_schedule_reaches_both_the_answer_says_which_and_why() -> None:
    # One working day of 8.5 h: the 8 h priority-5 job (greedy) and two 1 h jobs due at noon
    # (EDF) cannot all fit, so no schedule has greedy's hours and EDF's deadlines.
    tasks = [
        Task("big", "Big", 480, priority=5),
        Task("a", "A", 60, deadline=at(0, 12)),
        Task("b", "B", 60, deadline=at(0, 12)),
    ]
    problem = make_problem(tasks, days=1)
    edf, greedy = greedy_schedule(problem, "edf"), greedy_schedule(problem, "priority")
    assert met(problem, edf) == 2 and met(problem, greedy) == 0
    schedule = checked(problem)
    hours, deadlines = schedule.floors
    # The documented objective ranks weighted hours before deadlines: the big job is placed.
    assert hours.reached and weighted(problem, schedule) >= weighted(problem, greedy)
    assert not deadlines.reached
    assert deadlines.floor == 2 and deadlines.value == met(problem, schedule) < 2
    assert deadlines.baseline == "edf" and "proven" in deadlines.why


def test_a_deadline_a_pinned_piece_already_passed_counts_on_neither_side() -> None:
    # The user pinned part of "late" on Tuesday, after its Monday-noon deadline: no placement of
    # the rest can meet it, so the floors neither promise nor claim that deadline.
    tasks = [
        Task(
            "late",
            "Late",
            120,
            deadline=at(0, 12),
            pinned=(Interval(at(1, 14), at(1, 15)),),
        ),
        Task("a", "A", 60, deadline=at(0, 11)),
    ]
    problem = make_problem(tasks, days=2)
    edf = greedy_schedule(problem, "edf")
    assert met(problem, edf) == 1  # only "a": "late" ends on Tuesday whatever EDF does
    schedule = checked(problem)
    _, deadlines = schedule.floors
    assert deadlines.floor == 1 and deadlines.value == met(problem, schedule) == 1
    assert deadlines.reached


def test_a_hard_deadline_after_the_horizon_is_not_a_deadline_to_meet() -> None:
    # "send" is due on Thursday, after a two-day horizon, but "call", which needs it, is pinned
    # on Tuesday: "send" must end by then. That pin bounds where "send" goes; it is not a
    # deadline inside the horizon, so no baseline is credited with meeting it. (Found by the
    # property test: the floor said one deadline more than a recount of the blocks.)
    tasks = [
        Task("send", "Send", 30, deadline=at(3, 12), hard_deadline=True),
        Task("call", "Call", 60, depends_on=("send",), pinned=(Interval(at(1, 9), at(1, 10)),)),
        Task("long", "Long", 120, priority=2),
    ]
    problem = make_problem(tasks, days=2)
    schedule = checked(problem)
    _, deadlines = schedule.floors
    assert deadlines.floor == 0 and deadlines.value == 0
    assert deadlines.reached
