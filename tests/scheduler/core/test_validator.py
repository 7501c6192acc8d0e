"""The validator catches each kind of broken schedule (it is the oracle for the other tests)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from almanac.scheduler.core import (
    Block,
    Interval,
    Problem,
    Schedule,
    SolveStatus,
    Task,
    WorkingWindow,
    validate,
)

from .helpers import at, make_problem


def kinds(problem: Problem, *blocks: Block) -> list[str]:
    schedule = Schedule(tuple(blocks), (), SolveStatus.GREEDY)
    return sorted({v.kind for v in validate(problem, schedule)})


def block(task_id: str, start: tuple[int, int, int], end: tuple[int, int, int]) -> Block:
    return Block(task_id, 0, at(*start), at(*end))


TASKS = [
    Task("a", "A", 60),
    Task("b", "B", 60, depends_on=("a",)),
    Task("c", "C", 60, deadline=at(0, 12), hard_deadline=True, earliest_start=at(0, 10)),
    Task("s", "S", 180, splittable=True, min_chunk_minutes=60, max_chunk_minutes=90),
]


def test_a_valid_schedule_has_no_violations() -> None:
    problem = make_problem(TASKS, busy=(Interval(at(0, 13), at(0, 14)),))
    assert (
        kinds(
            problem,
            block("a", (0, 9, 0), (0, 10, 0)),
            block("c", (0, 10, 0), (0, 11, 0)),
            block("b", (0, 11, 0), (0, 12, 0)),
            block("s", (0, 14, 0), (0, 15, 30)),
            block("s", (0, 16, 0), (0, 17, 30)),
        )
        == []
    )


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([block("a", (0, 9, 0), (0, 10, 0)), block("c", (0, 9, 30), (0, 10, 30))], "overlap"),
        ([block("a", (0, 8, 0), (0, 9, 0))], "working_hours"),
        ([block("a", (0, 17, 0), (0, 18, 0))], "working_hours"),
        ([block("a", (5, 10, 0), (5, 11, 0))], "working_hours"),  # Saturday
        ([block("a", (0, 13, 30), (0, 14, 30))], "busy_overlap"),
        (
            [block("a", (0, 10, 0), (0, 11, 0)), block("b", (0, 9, 0), (0, 10, 0))],
            "dependency_order",
        ),
        ([block("b", (0, 9, 0), (0, 10, 0))], "dependency_unplaced"),
        ([block("c", (0, 11, 30), (0, 12, 30))], "hard_deadline"),
        ([block("c", (0, 9, 0), (0, 10, 0))], "earliest_start"),
        (
            [block("a", (0, 9, 0), (0, 9, 30)), block("a", (0, 10, 0), (0, 10, 30))],
            "chunk_length",
        ),  # not splittable
        ([block("s", (0, 9, 0), (0, 9, 30))], "chunk_length"),  # shorter than the minimum
        (
            [block("s", (0, 9, 0), (0, 10, 30)), block("s", (0, 10, 30), (0, 12, 0))],
            "chunk_length",
        ),  # touching chunks make one 180-minute block
        (
            [block("a", (0, 9, 0), (0, 10, 0)), block("a", (0, 10, 30), (0, 11, 30))],
            "over_duration",
        ),
        ([block("a", (0, 7, 0), (0, 8, 0))], "outside_horizon"),
        ([block("ghost", (0, 9, 0), (0, 10, 0))], "unknown_task"),
    ],
)
def test_each_broken_rule_is_reported(blocks: list[Block], expected: str) -> None:
    problem = make_problem(TASKS, busy=(Interval(at(0, 13), at(0, 14)),))
    assert expected in kinds(problem, *blocks)


def test_buffers_daily_maximum_and_weekly_capacity() -> None:
    tasks = [Task(f"t{i}", f"T{i}", 120) for i in range(6)]
    buffered = make_problem(tasks, buffer_minutes=15, busy=(Interval(at(0, 12), at(0, 13)),))
    assert kinds(
        buffered, block("t0", (0, 9, 0), (0, 11, 0)), block("t1", (0, 11, 0), (0, 13, 0))
    ) == ["buffer", "busy_overlap"]
    assert kinds(buffered, block("t0", (0, 9, 50), (0, 11, 50))) == ["buffer"]
    capped = make_problem(tasks, daily_max_minutes=180, weekly_capacity_hours=5)
    day = [block(f"t{i}", (0, 9 + 2 * i, 0), (0, 11 + 2 * i, 0)) for i in range(2)]
    assert kinds(capped, *day) == ["daily_max"]
    week = [block(f"t{i}", (i, 9, 0), (i, 11, 0)) for i in range(3)]
    assert kinds(capped, *week) == ["weekly_capacity"]
    # A sprint's capacity holds for its own week only; with "every week" too, the smaller.
    monday = at(0, 9).date() - timedelta(days=at(0, 9).weekday())
    other = make_problem(tasks, capacity_by_week=((monday + timedelta(days=7), 5.0),))
    assert kinds(other, *week) == []
    own = make_problem(tasks, capacity_by_week=((monday, 5.0),))
    assert kinds(own, *week) == ["weekly_capacity"]
    both = make_problem(tasks, capacity_by_week=((monday, 8.0),), weekly_capacity_hours=5)
    assert both.week_capacity_hours(monday.isocalendar()[:2]) == 5


def test_frozen_and_pinned_blocks_must_stay_and_are_exempt_from_placement_rules() -> None:
    frozen = Block("a", 0, at(0, 8), at(0, 9))  # before working hours, but already done
    pin = Interval(at(0, 18), at(0, 19))
    tasks = [Task("a", "A", 60), Task("p", "P", 60, pinned=(pin,))]
    problem = make_problem(tasks, now=at(0, 9), frozen_hours=1, previous=(frozen,))
    pinned = Block("p", 0, pin.start, pin.end)
    assert kinds(problem, frozen, pinned) == []
    assert kinds(problem, pinned) == ["frozen_moved"]
    assert kinds(problem, frozen) == ["pinned_moved"]
    # A new block may not go into the frozen hour either.
    moved = make_problem([Task("a", "A", 60), Task("b", "B", 60)], now=at(0, 9), frozen_hours=1)
    assert kinds(moved, block("b", (0, 9, 0), (0, 10, 0))) == ["outside_horizon"]


def test_working_hours_follow_the_local_clock_across_dst() -> None:
    # London clocks go forward on 30 March 2025: 09:00 is 09:00 GMT on Friday the 28th and
    # 08:00 UTC on Monday the 31st. A block at 09:00 UTC on Monday is 10:00 local: fine;
    # at 08:30 UTC on Friday it is 08:30 local: outside.
    from datetime import UTC, datetime

    friday = datetime(2025, 3, 28, 8, tzinfo=UTC)
    problem = Problem(
        tasks=(Task("a", "A", 60),),
        now=friday,
        horizon_start=friday,
        horizon_end=datetime(2025, 4, 2, tzinfo=UTC),
        timezone="Europe/London",
        working_hours=(WorkingWindow(0, time(9), time(17)), WorkingWindow(4, time(9), time(17))),
    )

    def check(start: datetime) -> list[str]:
        return [
            v.kind
            for v in validate(
                problem,
                Schedule(
                    (Block("a", 0, start, start.replace(hour=start.hour + 1)),),
                    (),
                    SolveStatus.GREEDY,
                ),
            )
        ]

    assert check(datetime(2025, 3, 31, 8, tzinfo=UTC)) == []
    assert check(datetime(2025, 3, 28, 8, 30, tzinfo=UTC)) == ["working_hours"]
    assert check(datetime(2025, 3, 31, 16, 30, tzinfo=UTC)) == ["working_hours"]
