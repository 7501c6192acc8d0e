"""Scheduling new work is never worse than the plain baselines over every plan at once.

Issue 15 measured it from outside: plans scheduled one after another, each solve a repair of
what the earlier ones wrote, ended below a plain greedy and a plain earliest-deadline-first
run over all plans together (the baselines inside the solver kept the previous blocks too).
"""

from __future__ import annotations

from almanac.scheduler.core import Block, Schedule, Task
from almanac.scheduler.core.greedy import greedy_placement
from almanac.scheduler.core.grid import build_grid

from .helpers import at, checked, make_problem


def _weighted_hours(schedule: Schedule, tasks: list[Task]) -> float:
    priority = {t.id: t.priority for t in tasks}
    return sum(
        priority[b.task_id] * (b.end - b.start).total_seconds() / 3600 for b in schedule.blocks
    )


def _hours(placement: dict[str, list[tuple[int, int]]], tasks: list[Task]) -> float:
    """Priority-weighted hours of a placement on the 15-minute grid."""
    priority = {t.id: t.priority for t in tasks}
    return sum(priority[t] * n * 15 / 60 for t, chunks in placement.items() for _, n in chunks)


def _full_monday() -> tuple[list[Task], tuple[Block, ...]]:
    """Plan 1's low-priority work fills Monday (09:00-17:30); its high-priority task was left
    out by that schedule (its priority raised since), and plan 2 brings half an hour of new
    work."""
    tasks = [Task(f"p1/low{i}", f"Low {i}", 120) for i in range(4)]
    tasks.append(Task("p1/low4", "Low 4", 30))
    tasks.append(Task("p1/high", "High", 120, priority=4))
    tasks.append(Task("p2/new", "New", 30))
    previous = tuple(
        Block(f"p1/low{i}", 0, at(0, 9 + 2 * i), at(0, 11 + 2 * i)) for i in range(4)
    ) + (Block("p1/low4", 0, at(0, 17), at(0, 17, 30)),)
    return tasks, previous


def test_scheduling_a_new_plan_reaches_the_plain_greedy_over_all_plans() -> None:
    tasks, previous = _full_monday()
    problem = make_problem(tasks, days=1, previous=previous, new_tasks=("p2/new",))
    # The plain greedy over all plans at once (as if nothing were placed yet) puts the
    # high-priority task first.
    grid = build_grid(make_problem(tasks, days=1))
    plain, _ = greedy_placement(grid, by_priority=True)
    assert "p1/high" in plain
    plain_hours = _hours(plain, tasks)
    schedule = checked(problem)
    assert _weighted_hours(schedule, tasks) >= plain_hours
    assert schedule.blocks_for("p1/high")
    # It says it re-optimised the calendar rather than repairing it.
    assert schedule.scope == "full"


def test_a_replan_without_new_work_still_only_repairs() -> None:
    # The same calendar replanned (no new work): a repair, which owes what the previous
    # schedule had (documented in ARCHITECTURE.md), keeps every block where it was.
    tasks, previous = _full_monday()
    schedule = checked(make_problem(tasks, days=1, previous=previous))
    assert schedule.scope == "repair"
    kept = {(b.task_id, b.start, b.end) for b in schedule.blocks}
    assert all((b.task_id, b.start, b.end) in kept for b in previous)


def test_a_full_replan_is_held_to_the_plain_baselines() -> None:
    # scope "full": the floors come from the baselines that ignore where blocks were, so the
    # high-priority work is placed whatever the stability cost of moving low blocks.
    tasks, previous = _full_monday()
    schedule = checked(make_problem(tasks, days=1, previous=previous, replan_scope="full"))
    assert schedule.blocks_for("p1/high")
    work = {f.baseline: f for f in schedule.floors if f.measure == "weighted hours"}
    assert all(f.reached for f in work.values())
    plain, _ = greedy_placement(build_grid(make_problem(tasks, days=1)), by_priority=True)
    assert max(f.floor for f in work.values()) >= _hours(plain, tasks)
