"""What a replan moves, block by block: followers, displaced work, and block identity."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from almanac.scheduler.core import Block, Interval, SolveStatus, Task, greedy_schedule, solve
from almanac.scheduler.core.cpsat_model import ModelBuilder
from almanac.scheduler.core.explain import number_blocks
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair import follower_tasks, kept_tasks, unearned
from almanac.scheduler.core.repair_greedy import Finish, repair_placement, waiting_tasks

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


def _monday_of_kept_work() -> tuple[list[Task], tuple[Block, ...]]:
    """Four two-hour priority-1 blocks fill Monday 09:00-17:00 (the k's); `x` sat on
    Tuesday 09:00-10:00."""
    tasks = [Task(f"p2/k{i}", f"Kept {i}", 120) for i in range(4)]
    previous = tuple(
        Block(f"p2/k{i}", 0, at(0, 9 + 2 * i), at(0, 11 + 2 * i)) for i in range(4)
    ) + (Block("p1/x", 0, at(1, 9), at(1, 10)),)
    return tasks, previous


def _moved(before: tuple[Block, ...], after: tuple[Block, ...]) -> set[str]:
    keep = {(b.task_id, b.start, b.end) for b in after}
    return {b.task_id for b in before if (b.task_id, b.start, b.end) not in keep}


def test_work_the_previous_schedule_left_out_only_takes_free_time() -> None:
    # w (priority 4) had no place before; Tuesday is full too. The meeting takes x's hour.
    # Pushing a kept priority-1 block out for w is a full re-plan's trade, not a repair's.
    tasks, previous = _monday_of_kept_work()
    tuesday = tuple(Block(f"p4/j{i}", 0, at(1, 10 + 2 * i), at(1, 12 + 2 * i)) for i in range(3))
    tasks += [Task(f"p4/j{i}", f"Tuesday {i}", 120) for i in range(3)]
    tasks += [Task("p1/x", "Hit", 60), Task("p3/w", "Waiting", 120, priority=4)]
    meeting = Interval(at(1, 9), at(1, 10))
    problem = make_problem(tasks, days=2, busy=(meeting,), previous=previous + tuesday)
    schedule = checked(problem)
    assert _moved(previous + tuesday, schedule.blocks) == {"p1/x"}
    assert not schedule.blocks_for("p3/w")
    full = checked(
        make_problem(
            tasks, days=2, busy=(meeting,), previous=previous + tuesday, replan_scope="full"
        )
    )
    assert full.blocks_for("p3/w")  # a full re-plan may


def test_a_replan_does_not_push_blocks_aside_for_a_deadline_it_missed_before() -> None:
    # x was due Monday 17:00 and already late on Tuesday; the meeting hits it. Meeting the
    # deadline now would push a kept Monday block to Tuesday: not what the change cost.
    tasks, previous = _monday_of_kept_work()
    tasks.append(Task("p1/x", "Hit", 60, priority=4, deadline=at(0, 17)))
    meeting = Interval(at(1, 9), at(1, 10))
    problem = make_problem(tasks, days=2, busy=(meeting,), previous=previous)
    builder = ModelBuilder(build_grid(problem))
    builder.build()
    # The model counts it missed whatever the answer: no moved block is paid for it.
    assert unearned(builder, []) == ["p1/x"]
    on_time = replace(problem, previous=(*previous[:-1], Block("p1/x", 0, at(0, 8), at(0, 9))))
    builder = ModelBuilder(build_grid(on_time))
    builder.build()
    assert unearned(builder, []) == []  # one it met before is what the change may cost
    schedule = checked(problem)
    assert _moved(previous, schedule.blocks) == {"p1/x"}
    assert schedule.blocks_for("p1/x")[0].start >= at(1, 10)  # still late, as it was
    assert "LATE" in schedule.blocks_for("p1/x")[0].reason


def test_a_replan_is_never_below_the_simple_repair() -> None:
    tasks, previous = _monday_of_kept_work()
    tasks += [Task("p1/x", "Hit", 60), Task("p3/w", "Waiting", 120, priority=4)]
    problem = make_problem(tasks, days=2, busy=(Interval(at(1, 9), at(1, 10)),), previous=previous)
    schedule = checked(problem)
    repair = [f for f in schedule.floors if f.baseline.startswith("repair-")]
    assert {f.measure for f in repair} == {"weighted hours", "deadlines met"}
    assert all(f.reached for f in repair)
    assert not [f for f in checked(make_problem(tasks, days=2)).floors if "repair" in f.baseline]
    # An answer below it (here: nothing placed at all) is replaced by the simple repair.
    grid = build_grid(problem)
    kept = kept_tasks(grid)
    followers = follower_tasks(grid, kept)
    finish = Finish(grid, kept, followers, waiting_tasks(grid), True)
    placement, source = finish({}, "cp-sat")
    assert source in ("repair-edf", "repair-greedy")
    assert placement == finish.simple[source]
    assert placement["p2/k0"] == [(grid.floor_idx(at(0, 9)), 8)]


def test_an_answer_replaced_by_the_simple_repair_does_not_claim_the_searchs_figures() -> None:
    # The meeting takes k8's hours on a full Tuesday: k8 and its follower k9 are out. The
    # search's optimum, waiting work then filled in, is below the simple repair, which is
    # returned instead: the search's status, objective and bound are not about it.
    def k(i: int, minutes: int, prio: int, deadline: datetime | None = None, dep: int = -1) -> Task:
        depends = (f"p2/k{dep}",) if dep >= 0 else ()
        return Task(f"p2/k{i}", f"K{i}", minutes, prio, deadline=deadline, depends_on=depends)

    tasks = [
        k(0, 120, 2), k(1, 60, 2), k(2, 120, 4, at(0, 17), dep=1), k(3, 60, 4), k(4, 60, 4),
        k(5, 60, 2, at(1, 17)), k(6, 60, 2), k(7, 60, 3, dep=6), k(8, 120, 1, dep=7),
        k(9, 60, 1, dep=8), k(10, 120, 1),
    ]  # fmt: skip
    hours = [(0, 9, 11), (0, 11, 12), (0, 12, 14), (0, 15, 16), (0, 16, 17), (1, 9, 10)]
    hours += [(1, 10, 11), (1, 11, 12), (1, 12, 14), (1, 14, 15), (1, 15, 17)]
    previous = tuple(Block(f"p2/k{i}", 0, at(d, a), at(d, b)) for i, (d, a, b) in enumerate(hours))
    tasks += [
        Task("p3/w0", "W0", 120, 4, True, 30, deadline=at(1, 17)),
        Task("p3/w1", "W1", 60, 3, True, 30, deadline=at(0, 17)),
        Task("p3/w2", "W2", 90, 4, True, 30, deadline=at(0, 17)),
    ]
    meeting = Interval(at(1, 12), at(1, 14))
    schedule = checked(make_problem(tasks, days=2, busy=(meeting,), previous=previous))
    assert schedule.source in ("repair-edf", "repair-greedy")
    assert schedule.status == SolveStatus.FEASIBLE  # not the search's "optimal"
    assert schedule.objective_value is None and schedule.relative_gap is None
    assert schedule.restored == ()


def test_waiting_work_gives_its_room_back_to_a_block_the_change_hit() -> None:
    # A (3 h, priority 5) was on Tuesday 11-14; a meeting at 13 hits it. Monday and
    # Wednesday are full and the day holds 5 h: A fits again only at 9-12, with B's
    # Tuesday block moved. W (2 h, priority 3) waited, left out before: waiting work only
    # has the free time, it never takes A's room (a model that let the search place waiting
    # work kept W and lost A).
    tasks = [
        Task("a", "A", 180, 5),
        Task("b", "B", 180, 4, True, 30),
        Task("m", "M", 240, 5),
        Task("e", "E", 300, 5),
        Task("w", "W", 120, 3),
    ]
    previous = (
        Block("m", 0, at(0, 9), at(0, 13)),
        Block("b", 0, at(0, 13), at(0, 14)),
        Block("b", 1, at(1, 9), at(1, 11)),
        Block("a", 0, at(1, 11), at(1, 14)),
        Block("e", 0, at(2, 9), at(2, 14)),
    )
    meeting = Interval(at(1, 13), at(1, 16))
    problem = make_problem(tasks, days=3, busy=(meeting,), previous=previous, daily_max_minutes=300)
    schedule = checked(problem)
    assert [(b.start, b.end) for b in schedule.blocks_for("a")] == [(at(1, 9), at(1, 12))]
    assert not schedule.blocks_for("w")
    assert schedule.blocks_for("m")[0].start == at(0, 9)  # Monday and Wednesday untouched
    assert schedule.blocks_for("e")[0].start == at(2, 9)


def test_a_held_blocks_number_is_never_given_to_another_block() -> None:
    # Last Friday's block of `big` still holds its event (plan<id>-big-0) outside this
    # solve: writing a new block as number 0 would move that past event.
    task = Task("p1/big", "Big", 240, splittable=True, min_chunk_minutes=60)
    held = (Block("p1/big", 0, at(-3, 9), at(-3, 11)),)
    for solver in (solve, greedy_schedule):
        schedule = checked(make_problem([task], days=2, held=held), solver)
        numbers = sorted(b.chunk for b in schedule.blocks)
        assert numbers and 0 not in numbers
        assert numbers == list(range(1, len(numbers) + 1))


def test_a_block_on_a_held_block_keeps_its_number() -> None:
    # Another plan's block kept outside the window comes back on the same place: same event.
    block = Block("p1/big", 3, at(0, 9), at(0, 10))
    blocks = [Block("p1/big", 0, at(0, 9), at(0, 10)), Block("p1/big", 0, at(0, 11), at(0, 12))]
    numbered = number_blocks(blocks, previous=(), held=(block,))
    assert [b.chunk for b in numbered] == [3, 0]


def test_a_replan_never_drops_work_to_move_fewer_blocks() -> None:
    # Monday 09:00-17:30 is full but for two half hours: the hit one-hour block fits again
    # only if k moves up by half an hour. Leaving h out would move one block instead of two;
    # the answer still places h (weighted work is never traded for stability).
    tasks = [Task("p1/h", "Hit", 60), Task("p1/k", "Kept", 60), Task("p1/x", "Rest", 330)]
    previous = (
        Block("p1/h", 0, at(0, 9), at(0, 10)),
        Block("p1/k", 0, at(0, 10, 30), at(0, 11, 30)),
        Block("p1/x", 0, at(0, 12), at(0, 17, 30)),
    )
    problem = make_problem(tasks, days=1, busy=(Interval(at(0, 9), at(0, 10)),), previous=previous)
    schedule = checked(problem)
    assert {b.task_id for b in schedule.blocks} == {"p1/h", "p1/k", "p1/x"}
    assert [(b.start, b.end) for b in schedule.blocks_for("p1/x")] == [(at(0, 12), at(0, 17, 30))]
