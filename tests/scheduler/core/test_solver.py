"""Behaviour of the CP-SAT and greedy schedulers on small hand-checked calendars.

Every schedule a solver returns here also passes the independent validator (`checked`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ortools.sat.python import cp_model

from almanac.scheduler.core import (
    Block,
    Interval,
    PreferredWindow,
    Problem,
    Schedule,
    SolveStatus,
    Task,
    UnplacedCause,
    WorkingWindow,
    greedy_schedule,
    solve,
)

from .helpers import at, causes, checked, make_problem, spans

Solver = Callable[[Problem], Schedule]


def test_hand_checked_instance_has_the_expected_placement() -> None:
    # Free Monday: 09-10 and 11-17:30. A (1 h) must end by noon, B (1.5 h) needs A first.
    # Finishing everything as early as possible: A 09-10, then C in 11-11:30, then B.
    tasks = [
        Task("A", "Draft", 60, deadline=at(0, 12), hard_deadline=True),
        Task("B", "Review", 90, depends_on=("A",)),
        Task("C", "Email", 30),
    ]
    problem = make_problem(tasks, days=1, busy=(Interval(at(0, 10), at(0, 11)),))
    schedule = checked(problem)
    assert schedule.status is SolveStatus.OPTIMAL
    assert spans(schedule, "A") == [("Mon 09:00", "10:00")]
    assert spans(schedule, "C") == [("Mon 11:00", "11:30")]
    assert spans(schedule, "B") == [("Mon 11:30", "13:00")]
    assert schedule.relative_gap == 0
    assert schedule.blocks_for("A")[0].reason == (
        "earliest free morning window before the same-day deadline"
    )
    # Greedy takes B before C (same urgency and priority, id order): B 11-12:30, C 12:30.
    greedy = checked(problem, greedy_schedule)
    assert greedy.status is SolveStatus.GREEDY
    assert spans(greedy, "B") == [("Mon 11:00", "12:30")]
    assert spans(greedy, "C") == [("Mon 12:30", "13:00")]


@pytest.mark.parametrize("solver", [solve, greedy_schedule])
def test_dependencies_are_respected_and_an_unplaced_dependency_blocks(solver: Solver) -> None:
    tasks = [
        Task("ship", "Ship", 60, deadline=at(1, 17), hard_deadline=True, depends_on=("test",)),
        Task("test", "Test", 120, depends_on=("build",)),
        Task("build", "Build", 180),
        # Four hours of work before 11:00 on Monday cannot happen; its follower waits.
        Task("rush", "Rush", 240, deadline=at(0, 11), hard_deadline=True),
        Task("after", "After rush", 60, depends_on=("rush",)),
    ]
    schedule = checked(make_problem(tasks), solver)
    build, test, ship = (schedule.blocks_for(t) for t in ("build", "test", "ship"))
    assert max(b.end for b in build) <= min(b.start for b in test)
    assert max(b.end for b in test) <= min(b.start for b in ship)
    assert ship[-1].end <= at(1, 17)
    assert causes(schedule) == {
        "rush": UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE.value,
        "after": UnplacedCause.DEPENDENCY_UNPLACED.value,
    }
    # Named by its title, as reasons name tasks, not by its id.
    assert [u.detail for u in schedule.unplaced if u.task_id == "after"] == ["waits for 'Rush'"]


def test_hard_deadline_is_enforced_and_the_loser_is_reported() -> None:
    # Only 09:00-11:00 is free before the 11:00 deadline: room for one of the two.
    tasks = [
        Task("low", "Low", 120, priority=1, deadline=at(0, 11), hard_deadline=True),
        Task("high", "High", 120, priority=3, deadline=at(0, 11), hard_deadline=True),
    ]
    schedule = checked(make_problem(tasks, days=1))
    assert spans(schedule, "high") == [("Mon 09:00", "11:00")]
    assert causes(schedule) == {"low": UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE.value}


def test_soft_deadline_is_missed_rather_than_the_task_dropped() -> None:
    tasks = [
        Task("hard", "Hard", 120, deadline=at(0, 11), hard_deadline=True),
        Task("soft", "Soft", 120, deadline=at(0, 11)),
    ]
    schedule = checked(make_problem(tasks, days=1))
    assert spans(schedule, "soft") == [("Mon 11:00", "13:00")]
    reason = schedule.blocks_for("soft")[0].reason
    assert "LATE by 2.0 h after the same-day deadline" in reason
    assert "the free time before it went to other work ('Hard')" in reason  # named


def test_a_late_block_kept_by_a_replan_still_says_it_is_late() -> None:
    tasks = [Task("soft", "Soft", 120, deadline=at(0, 11))]
    previous = (Block("soft", 0, at(0, 14), at(0, 16)),)
    busy = (Interval(at(0, 9), at(0, 14)),)  # no earlier time: the old place is the best
    schedule = checked(make_problem(tasks, days=1, previous=previous, busy=busy))
    (block,) = schedule.blocks_for("soft")
    assert (block.start, block.end) == (at(0, 14), at(0, 16))
    assert block.reason.startswith("kept where it was")
    assert "LATE by 5.0 h after the same-day deadline" in block.reason
    assert "not enough free working time" in block.reason
    lone = [Task("long", "Long", 240, deadline=at(0, 11))]
    late = checked(make_problem(lone, days=1))
    assert "not enough free working time" in late.blocks_for("long")[0].reason


def test_a_pinned_block_past_the_deadline_says_it_is_late() -> None:
    # "pinned by you" alone hid that the pin misses the deadline.
    pin = Interval(at(0, 14), at(0, 16))
    tasks = [Task("soft", "Soft", 120, deadline=at(0, 11), pinned=(pin,))]
    schedule = checked(make_problem(tasks, days=1))
    (block,) = schedule.blocks_for("soft")
    assert block.fixed and (block.start, block.end) == (pin.start, pin.end)
    assert block.reason.startswith("pinned by you")
    assert "LATE by 5.0 h after the same-day deadline" in block.reason


def test_unsplittable_task_longer_than_any_free_window() -> None:
    meetings = tuple(
        Interval(at(d, h), at(d, h + 1)) for d in range(5) for h in (11, 14)
    )  # longest free stretch each day: 15:00-17:30
    tasks = [
        Task("long", "Long", 180),
        Task("parts", "Parts", 180, splittable=True, min_chunk_minutes=60, max_chunk_minutes=120),
    ]
    for solver in (solve, greedy_schedule):
        schedule = checked(make_problem(tasks, busy=meetings), solver)
        assert causes(schedule) == {"long": UnplacedCause.LONGER_THAN_ANY_FREE_WINDOW.value}
        assert sum(b.minutes for b in schedule.blocks_for("parts")) == 180


def test_splitting_keeps_chunks_within_bounds() -> None:
    meetings = (Interval(at(0, 11), at(0, 12)), Interval(at(0, 14), at(0, 15)))
    task = Task("big", "Big", 300, splittable=True, min_chunk_minutes=60, max_chunk_minutes=120)
    schedule = checked(make_problem([task], days=1, busy=meetings))
    blocks = schedule.blocks_for("big")
    assert sum(b.minutes for b in blocks) == 300
    assert all(60 <= b.minutes <= 120 for b in blocks)
    assert [b.chunk for b in blocks] == list(range(len(blocks)))
    assert len(blocks) >= 3  # 300 min cannot be two chunks of at most 120


def test_preferred_morning_window_is_used_when_free() -> None:
    mornings = tuple(PreferredWindow(d, time(9), time(12), 10, "deep") for d in range(5))
    tasks = [Task("focus", "Focus", 120, tags=("deep",)), Task("admin", "Admin", 60)]
    problem = make_problem(tasks, now=at(0, 13), preferred_windows=mornings)
    schedule = checked(problem)
    assert spans(schedule, "focus") == [("Tue 09:00", "11:00")]
    assert spans(schedule, "admin") == [("Mon 13:00", "14:00")]  # untagged: earliest
    assert "preferred deep window" in schedule.blocks_for("focus")[0].reason
    # Greedy ignores preferences: first fit after "admin" (same urgency, earlier id).
    assert spans(checked(problem, greedy_schedule), "focus") == [("Mon 14:00", "16:00")]


def test_billable_shortfall_penalty_changes_which_task_gets_short_capacity() -> None:
    # Two free hours on Monday. Without a target the deep-work task wins on its preferred
    # window; with a 60 % billable target the billable task wins instead.
    tasks = [
        Task("deep", "Deep", 120, tags=("deep",)),
        Task("client", "Client work", 120, billable=True),
    ]
    base: dict[str, Any] = dict(
        days=1,
        working_hours=(WorkingWindow(0, time(9), time(11)),),
        preferred_windows=(PreferredWindow(0, time(9), time(11), 10, "deep"),),
    )
    plain = checked(make_problem(tasks, **base))
    assert plain.placed_task_ids == {"deep"}
    target = checked(make_problem(tasks, billable_share_target=0.6, **base))
    assert target.placed_task_ids == {"client"}


@pytest.mark.parametrize("solver", [solve, greedy_schedule])
def test_frozen_horizon_keeps_blocks(solver: Solver) -> None:
    previous = (
        Block("started", 0, at(0, 8, 30), at(0, 9, 30)),  # already running at 09:00
        Block("frozen", 0, at(0, 10), at(0, 11)),  # inside the two frozen hours
        Block("movable", 0, at(0, 11), at(0, 12)),
    )
    tasks = [
        Task("started", "Started", 60),
        Task("frozen", "Frozen", 60, priority=1),
        Task("movable", "Movable", 60),
        # Must run 11:00-12:00: the only free hour after the freeze and before its deadline.
        Task("urgent", "Urgent", 60, priority=5, deadline=at(0, 13), hard_deadline=True),
    ]
    problem = make_problem(
        tasks,
        now=at(0, 9),
        frozen_hours=2,
        previous=previous,
        busy=(Interval(at(0, 12), at(0, 13)),),
    )
    schedule = checked(problem, solver)
    kept = {(b.task_id, b.start, b.end): b for b in schedule.blocks}
    for block in previous[:2]:
        assert kept[(block.task_id, block.start, block.end)].fixed
    assert kept[("started", at(0, 8, 30), at(0, 9, 30))].reason == "already started"
    assert all(b.start >= at(0, 11) for b in schedule.blocks if not b.fixed)
    if solver is solve:  # worth moving a block for: CP-SAT weighs it
        assert spans(schedule, "urgent") == [("Mon 11:00", "12:00")]
        assert spans(schedule, "movable") not in ([], [("Mon 11:00", "12:00")])
    else:  # greedy never pushes kept blocks aside for work that was not in the plan
        assert spans(schedule, "movable") == [("Mon 11:00", "12:00")]
        assert causes(schedule) == {"urgent": UnplacedCause.NO_CAPACITY_BEFORE_DEADLINE.value}


@pytest.mark.parametrize("solver", [solve, greedy_schedule])
def test_displaced_hard_deadline_work_pushes_the_cheapest_block_aside(solver: Solver) -> None:
    names = ["a", "b", "c", "d", "urgent"]
    times = [(9, 11), (11, 13), (13, 14), (15, 16), (14, 15)]
    previous = tuple(
        Block(n, 0, at(0, s), at(0, e)) for n, (s, e) in zip(names, times, strict=True)
    )
    tasks = [Task(n, n, 60 * (e - s)) for n, (s, e) in zip(names[:4], times[:4], strict=True)]
    tasks.append(Task("urgent", "Urgent", 60, deadline=at(0, 16), hard_deadline=True))
    meeting = Interval(at(0, 14), at(0, 15))  # lands on "urgent"
    schedule = checked(make_problem(tasks, days=2, previous=previous, busy=(meeting,)), solver)
    assert [spans(schedule, n) for n in "ab"] == [
        [("Mon 09:00", "11:00")],
        [("Mon 11:00", "13:00")],
    ]
    # One of the two one-hour blocks before the deadline makes room (either costs one move);
    # greedy takes the earlier hour, CP-SAT's repair whichever its search meets first.
    pushed = "c" if spans(schedule, "urgent") == [("Mon 13:00", "14:00")] else "d"
    stays = {"c": "d", "d": "c"}[pushed]
    if solver is greedy_schedule:
        assert pushed == "c"
    assert (
        spans(schedule, "urgent")
        == {"c": [("Mon 13:00", "14:00")], "d": [("Mon 15:00", "16:00")]}[pushed]
    )
    assert spans(schedule, pushed) == [("Mon 16:00", "17:00")]
    assert (
        spans(schedule, stays)
        == {"c": [("Mon 13:00", "14:00")], "d": [("Mon 15:00", "16:00")]}[stays]
    )


def _moved(before: tuple[Block, ...], after: tuple[Block, ...]) -> int:
    keep = {(b.task_id, b.start, b.end) for b in after}
    return sum(1 for b in before if (b.task_id, b.start, b.end) not in keep)


def test_replanning_with_stability_moves_fewer_blocks() -> None:
    tasks = [Task(f"t{i}", f"Task {i}", 60 + 30 * (i % 3), priority=1 + i % 3) for i in range(12)]
    quick: dict[str, Any] = {"days": 3, "time_limit_seconds": 1.5}
    first = checked(make_problem(tasks, **quick))
    meeting = Interval(at(0, 9), at(0, 10))  # lands on Monday's first block
    changed = make_problem(tasks, busy=(meeting,), **quick)
    stable = checked(make_problem(tasks, busy=(meeting,), previous=first.blocks, **quick))
    fresh = checked(changed)
    assert len(stable.blocks) == len(first.blocks)
    assert _moved(first.blocks, stable.blocks) <= 2
    assert _moved(first.blocks, stable.blocks) < _moved(first.blocks, fresh.blocks)
    kept = [b for b in stable.blocks if b.reason == "kept where it was in the previous plan"]
    assert len(kept) >= len(first.blocks) - 2


@pytest.mark.parametrize(
    ("zone", "friday", "utc_hours"),
    [("America/New_York", 7, (14, 13)), ("Europe/London", 28, (9, 8))],
)
def test_working_hours_stay_local_across_the_clock_change(
    zone: str, friday: int, utc_hours: tuple[int, int]
) -> None:
    # The clocks go forward on the Sunday between this Friday and the following Monday.
    tz = ZoneInfo(zone)
    start = at(0, 0).replace(tzinfo=tz, day=friday) + timedelta(hours=8)
    tasks = [Task(f"t{i}", f"Task {i}", 240) for i in range(4)]
    problem = make_problem(tasks, now=start, horizon_end=start + timedelta(days=5), timezone=zone)
    for solver in (solve, greedy_schedule):
        schedule = checked(problem, solver)
        assert len(schedule.blocks) == 4
        for block in schedule.blocks:
            local_start, local_end = block.start.astimezone(tz), block.end.astimezone(tz)
            assert time(9) <= local_start.time() and local_end.time() <= time(17, 30)
        first: dict[object, datetime] = {}
        for block in schedule.blocks:  # blocks come in time order
            first.setdefault(block.start.astimezone(tz).date(), block.start)
        first_friday, first_monday = list(first.values())[:2]
        assert first_friday.astimezone(tz).time() == first_monday.astimezone(tz).time() == time(9)
        assert (
            first_friday.astimezone(ZoneInfo("UTC")).hour,
            first_monday.astimezone(ZoneInfo("UTC")).hour,
        ) == utc_hours


def test_fallback_to_greedy_when_cp_sat_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_answer(self: cp_model.CpSolver, model: cp_model.CpModel, *args: object) -> Any:
        return cp_model.UNKNOWN

    monkeypatch.setattr(cp_model.CpSolver, "solve", no_answer)
    problem = make_problem([Task("a", "A", 60), Task("b", "B", 30)], days=1)
    schedule = checked(problem)
    assert schedule.status is SolveStatus.GREEDY_FALLBACK
    assert schedule.solver_status == "UNKNOWN"
    assert spans(schedule, "a") == [("Mon 09:00", "10:00")]
    assert schedule.objective_value is None


def test_causes_for_tasks_outside_the_horizon_and_cycles() -> None:
    tasks = [
        Task("late", "Late", 60, earliest_start=at(9, 9)),
        Task("past", "Past", 60, deadline=at(0, 7), hard_deadline=True),
        Task("x", "X", 60, depends_on=("y",)),
        Task("y", "Y", 60, depends_on=("x",)),
        Task("z", "Z", 60, depends_on=("x",)),
    ]
    schedule = checked(make_problem(tasks, days=5))
    assert causes(schedule) == {
        "late": UnplacedCause.OUTSIDE_HORIZON.value,
        "past": UnplacedCause.OUTSIDE_HORIZON.value,
        "x": UnplacedCause.DEPENDENCY_CYCLE.value,
        "y": UnplacedCause.DEPENDENCY_CYCLE.value,
        "z": UnplacedCause.DEPENDENCY_UNPLACED.value,
    }


def test_daily_maximum_buffers_and_pinned_blocks() -> None:
    pin = Interval(at(0, 13), at(0, 14))
    tasks = [Task(f"t{i}", f"Task {i}", 120) for i in range(4)]
    tasks.append(Task("pinned", "Pinned", 90, pinned=(pin,)))
    problem = make_problem(tasks, days=2, daily_max_minutes=300, buffer_minutes=10)
    for solver in (solve, greedy_schedule):
        schedule = checked(problem, solver)
        pinned = schedule.blocks_for("pinned")
        assert any(b.fixed and (b.start, b.end) == (pin.start, pin.end) for b in pinned)
        assert sum(b.minutes for b in pinned) == 90
        monday = [b for b in schedule.blocks if b.start.date() == at(0, 0).date()]
        assert sum(b.minutes for b in monday) <= 300


def test_a_meeting_on_one_chunk_moves_only_that_chunk() -> None:
    task = Task("big", "Big", 360, splittable=True, min_chunk_minutes=60, max_chunk_minutes=120)
    previous = (
        Block("big", 0, at(0, 9), at(0, 11)),
        Block("big", 1, at(0, 13), at(0, 15)),
        Block("big", 2, at(1, 9), at(1, 11)),
    )
    meeting = (Interval(at(0, 13), at(0, 14)),)
    for solver in (solve, greedy_schedule):
        schedule = checked(make_problem([task], days=2, previous=previous, busy=meeting), solver)
        kept = {(b.start, b.end) for b in schedule.blocks_for("big")}
        assert {(at(0, 9), at(0, 11)), (at(1, 9), at(1, 11))} <= kept, solver
        assert sum(b.minutes for b in schedule.blocks_for("big")) == 360
