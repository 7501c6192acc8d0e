"""A replan may leave a hit task partly placed: its untouched blocks stay, and it says so."""

from __future__ import annotations

from almanac.scheduler.core import Block, Interval, Task
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair import follower_tasks, kept_tasks
from almanac.scheduler.core.repair_greedy import simple_repair, waiting_tasks
from almanac.scheduler.problem import moves, why_moved

from .helpers import at, causes, checked, make_problem, spans

# A full Monday: a three-hour splittable task of priority 1 in three one-hour pieces, and
# four priority-4 tasks in every hour between them. Nothing else is free in the horizon.
PREVIOUS = (
    Block("p1/big", 0, at(0, 9), at(0, 10)),
    Block("p2/a", 0, at(0, 10), at(0, 11)),
    Block("p1/big", 1, at(0, 11), at(0, 12)),
    Block("p2/b", 0, at(0, 12), at(0, 13)),
    Block("p1/big", 2, at(0, 13), at(0, 14)),
    Block("p2/c", 0, at(0, 14), at(0, 15, 30)),
    Block("p2/d", 0, at(0, 15, 30), at(0, 17, 30)),
)
MEETING = Interval(at(0, 9), at(0, 10))  # on big's first piece


def _tasks(**big: object) -> list[Task]:
    return [
        Task("p1/big", "Big report", 180, splittable=True, max_chunk_minutes=60, **big),  # type: ignore[arg-type]
        Task("p2/a", "Call notes", 60, priority=4),
        Task("p2/b", "Review", 60, priority=4),
        Task("p2/c", "Slides", 90, priority=4),
        Task("p2/d", "Workshop", 120, priority=4),
    ]


def test_a_hit_task_with_no_room_for_its_hit_piece_keeps_its_untouched_blocks() -> None:
    problem = make_problem(_tasks(), days=1, busy=(MEETING,), previous=PREVIOUS)
    schedule = checked(problem)
    # The untouched pieces stay where they were, with their calendar events (chunk numbers).
    assert spans(schedule, "p1/big") == [("Mon 11:00", "12:00"), ("Mon 13:00", "14:00")]
    assert sorted(b.chunk for b in schedule.blocks_for("p1/big")) == [1, 2]
    for key in ("p2/a", "p2/b", "p2/c", "p2/d"):  # the higher-priority work is not touched
        assert [(b.start, b.end) for b in schedule.blocks_for(key)] == [
            (b.start, b.end) for b in PREVIOUS if b.task_id == key
        ]
    # Not "unplaced" while it has blocks: partly placed, with the hours left and why.
    assert "p1/big" not in causes(schedule)
    (part,) = schedule.partial
    assert (part.task_id, part.placed_minutes, part.unplaced_minutes) == ("p1/big", 120, 60)
    assert "2 h of 3 h" in part.detail and "other 1 h" in part.detail
    for block in schedule.blocks_for("p1/big"):
        assert "partly placed, 1 h unplaced" in block.reason
    assert sum(b.minutes for b in schedule.blocks_for("p1/big")) <= 180


def test_the_simple_repair_keeps_the_untouched_blocks_too() -> None:
    problem = make_problem(_tasks(), days=1, busy=(MEETING,), previous=PREVIOUS)
    grid = build_grid(problem)
    kept = kept_tasks(grid)
    repairs = simple_repair(grid, kept, follower_tasks(grid, kept), waiting_tasks(grid))
    for placement in repairs.values():
        assert placement["p1/big"] == [(44, 4), (52, 4)]  # 11:00 and 13:00, an hour each


def test_a_task_others_wait_for_is_never_left_partly_placed() -> None:
    # A follower needs its dependency finished: big is placed whole or not at all.
    tasks = [*_tasks(), Task("p1/send", "Send", 30, depends_on=("p1/big",))]
    problem = make_problem(tasks, days=1, busy=(MEETING,), previous=PREVIOUS)
    schedule = checked(problem)
    assert schedule.partial == ()
    have = sum(b.minutes for b in schedule.blocks_for("p1/big"))
    assert have in (0, 180)


def test_a_hard_deadline_task_is_never_left_partly_placed() -> None:
    problem = make_problem(
        _tasks(deadline=at(0, 17, 30), hard_deadline=True),
        days=1,
        busy=(MEETING,),
        previous=PREVIOUS,
    )
    schedule = checked(problem)
    assert schedule.partial == ()
    assert sum(b.minutes for b in schedule.blocks_for("p1/big")) in (0, 180)


def test_a_first_schedule_never_leaves_a_task_partly_placed() -> None:
    # Over-full from the start: no previous schedule, so no task is left partly placed.
    problem = make_problem(_tasks(), days=1, busy=(MEETING,))
    schedule = checked(problem)
    assert schedule.partial == ()
    assert sum(b.minutes for b in schedule.blocks_for("p1/big")) in (0, 180)


def test_each_moved_block_of_a_partly_placed_task_says_why() -> None:
    problem = make_problem(_tasks(), days=1, busy=(MEETING,), previous=PREVIOUS)
    schedule = checked(problem)
    (move,) = moves(PREVIOUS, schedule.blocks)  # only the hit piece changed
    assert (move.task_key, move.old.start, move.new) == ("p1/big", at(0, 9), None)
    why = why_moved(move, problem, schedule)
    assert why.startswith("its old time now overlaps a busy event; the task is partly placed")
    assert "1 h" in why
