"""What a replan moves, block by block: followers, displaced work, and block identity."""

from __future__ import annotations

from almanac.scheduler.core import Block, Interval, Task, greedy_schedule, solve
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair import follower_tasks, kept_tasks, repair_placement

from .helpers import at, checked, make_problem

# Monday is full: a 09-10, its follower f 10-11, then unrelated kept work until 17:00.
FULL_MONDAY = (
    Block("p1/a", 0, at(0, 9), at(0, 10)),
    Block("p1/f", 0, at(0, 10), at(0, 11)),
    Block("p2/k1", 0, at(0, 11), at(0, 13)),
    Block("p2/k2", 0, at(0, 13), at(0, 15)),
    Block("p2/k3", 0, at(0, 15), at(0, 17)),
)


def _chain() -> list[Task]:
    """a -> f -> n; n had no block (new to the calendar), the k's are unrelated."""
    return [
        Task("p1/a", "Draft", 60),
        Task("p1/f", "Review", 60, depends_on=("p1/a",)),
        Task("p1/n", "Send", 60, depends_on=("p1/f",)),
        Task("p2/k1", "Report", 120),
        Task("p2/k2", "Slides", 120),
        Task("p2/k3", "Notes", 120),
    ]


def test_the_greedy_repair_keeps_dependencies_when_a_follower_moves_late() -> None:
    # The meeting takes a's hour: a goes to Tuesday, so f must follow it; n, placed after
    # f's old place while f still sat there, must then follow f's new place too.
    problem = make_problem(
        _chain(), days=2, busy=(Interval(at(0, 9), at(0, 10)),), previous=FULL_MONDAY
    )
    grid = build_grid(problem)
    kept = kept_tasks(grid)
    followers = follower_tasks(grid, kept)
    assert followers == {"p1/f"}
    for by_priority in (False, True):
        placement = repair_placement(grid, kept, by_priority, followers)
        for tid, chunks in placement.items():
            for dep in grid.plans[tid].task.depends_on:
                assert dep in placement, (tid, dep)
                end = placement[dep][-1][0] + placement[dep][-1][1]
                assert chunks[0][0] >= end, (tid, dep)
    schedule = checked(problem)
    assert {b.task_id for b in schedule.blocks} >= {"p1/a", "p1/f", "p1/n"}


def test_a_kept_block_keeps_its_number_when_an_earlier_block_of_its_task_moves() -> None:
    # A block's number is its calendar event (plan<id>-<task>-<chunk>): the two blocks the
    # meeting leaves alone must keep theirs though the moved one now comes after them.
    task = Task("p1/big", "Big", 360, splittable=True, min_chunk_minutes=30)
    previous = (
        Block("p1/big", 0, at(0, 9), at(0, 11)),
        Block("p1/big", 1, at(0, 11, 30), at(0, 13, 30)),
        Block("p1/big", 2, at(0, 14), at(0, 16)),
    )
    meeting = Interval(at(0, 9), at(0, 11))
    for solver in (solve, greedy_schedule):
        schedule = checked(make_problem([task], days=2, busy=(meeting,), previous=previous), solver)
        numbers = {(b.start, b.end): b.chunk for b in schedule.blocks}
        assert numbers[(at(0, 11, 30), at(0, 13, 30))] == 1
        assert numbers[(at(0, 14), at(0, 16))] == 2
        assert sorted(numbers.values()) == list(range(len(numbers)))
        moved = [b for b in schedule.blocks if b.chunk not in (1, 2)]
        assert moved and all(b.start >= at(0, 16) for b in moved)
