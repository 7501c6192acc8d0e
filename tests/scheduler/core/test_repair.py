"""Replanning as a repair: only what a change breaks moves, and what must follow it."""

from __future__ import annotations

from almanac.scheduler.core import Block, Interval, Task
from almanac.scheduler.core.grid import build_grid
from almanac.scheduler.core.repair import kept_tasks
from almanac.scheduler.problem import moves, why_moved

from .helpers import at, checked, make_problem, spans

# Two plans on a full Monday; Tuesday is free. Plan 1 is a chain a1 -> a2 -> a3.
PREVIOUS = (
    Block("p1/a1", 0, at(0, 9), at(0, 10)),
    Block("p1/a2", 0, at(0, 10), at(0, 11)),
    Block("p1/a3", 0, at(0, 11), at(0, 12)),
    Block("p2/b1", 0, at(0, 12), at(0, 13)),
    Block("p2/b2", 0, at(0, 13), at(0, 15)),
    Block("p2/b3", 0, at(0, 15), at(0, 17)),
    Block("p2/b4", 0, at(1, 9), at(1, 10)),
)


def _tasks(deadline: bool = False) -> list[Task]:
    """With `deadline`, a2 is urgent and a3 no longer waits for it."""
    due = {"deadline": at(0, 17), "priority": 4} if deadline else {}
    return [
        Task("p1/a1", "Draft", 60),
        Task("p1/a2", "Review", 60, depends_on=("p1/a1",), **due),
        Task("p1/a3", "Send", 60, depends_on=() if deadline else ("p1/a2",)),
        Task("p2/b1", "Call notes", 60),
        Task("p2/b2", "Report", 120),
        Task("p2/b3", "Slides", 120),
        Task("p2/b4", "Invoices", 60),
    ]


def _moved(before: tuple[Block, ...], after: tuple[Block, ...]) -> set[str]:
    keep = {(b.task_id, b.start, b.end) for b in after}
    return {b.task_id for b in before if (b.task_id, b.start, b.end) not in keep}


def test_a_meeting_on_one_block_moves_it_and_what_must_follow_it_only() -> None:
    meeting = Interval(at(0, 9), at(0, 10))  # lands on a1, which a2 and a3 follow
    problem = make_problem(_tasks(), days=2, busy=(meeting,), previous=PREVIOUS)
    assert kept_tasks(build_grid(problem)) == {"p2/b1", "p2/b2", "p2/b3", "p2/b4"}
    schedule = checked(problem)
    assert schedule.scope == "repair"
    assert _moved(PREVIOUS, schedule.blocks) <= {"p1/a1", "p1/a2", "p1/a3"}
    assert "p1/a1" in _moved(PREVIOUS, schedule.blocks)
    for block in PREVIOUS[3:]:  # the other plan's blocks stay exactly where they were
        assert spans(schedule, block.task_id) == [(f"{block.start:%a %H:%M}", f"{block.end:%H:%M}")]
    # The chain keeps its order after the move, and each moved block says why.
    a1, a2, a3 = (schedule.blocks_for(f"p1/a{i}")[0] for i in (1, 2, 3))
    assert a1.end <= a2.start and a2.end <= a3.start
    whys = {m.task_key: why_moved(m, problem, schedule) for m in moves(PREVIOUS, schedule.blocks)}
    assert whys["p1/a1"] == "its old time now overlaps a busy event"
    for key in set(whys) - {"p1/a1"}:
        assert whys[key].startswith("must follow ")


def test_a_first_schedule_has_no_replan_scope_and_an_unchanged_calendar_moves_nothing() -> None:
    first = checked(make_problem(_tasks(), days=2))
    assert first.scope == ""
    again = checked(make_problem(_tasks(), days=2, previous=first.blocks))
    assert again.scope == "repair"
    assert _moved(first.blocks, again.blocks) == set()


def test_an_urgent_task_pushes_as_few_unrelated_blocks_aside_as_it_needs() -> None:
    # a2 (priority 4) is due Monday 17:00; after the meeting, a repair alone puts a1 in a2's
    # old hour and a2 late on Tuesday. Moving one other block to Tuesday meets it.
    meeting = Interval(at(0, 9), at(0, 10))
    problem = make_problem(_tasks(deadline=True), days=2, busy=(meeting,), previous=PREVIOUS)
    schedule = checked(problem)
    assert schedule.blocks_for("p1/a2")[-1].end <= at(0, 17)
    assert schedule.scope == "widened"
    pushed = _moved(PREVIOUS, schedule.blocks) - {"p1/a1", "p1/a2"}
    assert len(pushed) == 1  # the fewest moves that meet it
    whys = [why_moved(m, problem, schedule) for m in moves(PREVIOUS, schedule.blocks)]
    assert all(whys)


def test_a_block_whose_dependency_still_fits_stays_kept() -> None:
    # A meeting on b4 (Tuesday) breaks nothing plan 1 needs: all of plan 1 is kept.
    meeting = Interval(at(1, 9), at(1, 10))
    problem = make_problem(_tasks(), days=2, busy=(meeting,), previous=PREVIOUS)
    assert kept_tasks(build_grid(problem)) == {t.id for t in _tasks()} - {"p2/b4"}
    schedule = checked(problem)
    assert _moved(PREVIOUS, schedule.blocks) == {"p2/b4"}
