"""Pure helpers: rows to core tasks, limits from settings and preferences, moves."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from almanac.config import SchedulerSettings
from almanac.errors import ValidationFailed
from almanac.scheduler.core import Block, Interval, Problem, Schedule, SolveStatus, Task
from almanac.scheduler.moves import moves, why_moved
from almanac.scheduler.problem import (
    ClosedTask,
    TaskInput,
    build_problem,
    limits,
    parse_almanac_id,
    to_core_task,
)
from almanac.scheduler.schemas import PreferredWindowIn, SchedulingPreferences

T0 = datetime(2030, 1, 7, 9, tzinfo=UTC)


def test_durations_round_up_and_long_tasks_split():
    warnings: list[str] = []
    short = to_core_task(TaskInput("a", "A", 0.3), set(), 15, warnings)
    assert short.duration_minutes == 30 and not short.splittable
    long = to_core_task(TaskInput("b", "B", 5.0), set(), 15, warnings)
    assert long.duration_minutes == 300 and long.splittable
    assert long.chunk_bounds() == (30, 120)
    none = to_core_task(TaskInput("c", "C", None), set(), 15, warnings)
    assert none.duration_minutes == 60 and any("no estimate" in w for w in warnings)


def test_unknown_dependencies_are_dropped_with_a_warning():
    warnings: list[str] = []
    task = to_core_task(TaskInput("b", "B", 1, depends_on=("a", "gone")), {"a", "b"}, 15, warnings)
    assert task.depends_on == ("a",)
    assert warnings == ["task 'b': dependency 'gone' is not open; ignored"]


def test_a_done_dependency_is_satisfied_and_a_cancelled_one_is_named():
    warnings: list[str] = []
    deps = ("done", "old", "cut", "gone")
    closed = {
        "done": ClosedTask("done", "Done", "done"),
        "old": ClosedTask("completed", "Old", "old"),
        "cut": ClosedTask("cancelled", "cut", "cut"),
    }
    task = to_core_task(TaskInput("b", "B", 1, depends_on=deps), {"b"}, 15, warnings, closed)
    assert task.depends_on == ()
    assert warnings == [
        "task 'b': dependency 'cut' is cancelled; ignored, the task no longer waits for it",
        "task 'b': dependency 'gone' is not a task; ignored",
    ]


def test_dropped_dependencies_are_named_by_title_not_internal_id():
    """A cancelled dependency was named by the calendar's internal id ('p12/review'): now
    by its title, with its key only when another task has the same title."""
    closed = {
        "p12/review": ClosedTask("cancelled", "Review the draft", "review"),
        "p12/check": ClosedTask("skipped", "Check", "check"),
        "p12/check-2": ClosedTask("cancelled", "check", "check-2"),
    }
    warnings: list[str] = []
    deps = ("p12/review", "p12/check", "p12/gone")
    b = TaskInput("p12/b", "B", 1, depends_on=deps, name="b")
    problem = build_problem([b], **_problem_args(warnings), closed=closed)
    assert problem.tasks[0].depends_on == ()
    assert [w for w in warnings if "dependency" in w] == [
        "task 'b': dependency 'Review the draft' is cancelled; ignored, the task no longer "
        "waits for it",
        "task 'b': dependency 'Check' (check) is skipped; ignored, the task no longer waits for it",
        "task 'b': dependency 'gone' is not a task; ignored",
    ]
    assert "p12/" not in " ".join(warnings)


def test_another_plans_closed_task_is_named_by_its_key_only():
    """The whole calendar is solved at once: a closed task of another plan (another
    client's, perhaps) carries no title (None), so no warning can quote one."""
    closed = {"p7/draft": ClosedTask("cancelled", None, "7/draft")}
    warnings: list[str] = []
    b = TaskInput("p7/b", "B", 1, depends_on=("p7/draft",), name="7/b")
    build_problem([b], **_problem_args(warnings), closed=closed)
    assert (
        "task '7/b': dependency '7/draft' is cancelled; ignored, the task no longer waits for it"
    ) in warnings


def _problem_args(warnings: list[str]) -> dict[str, Any]:
    return {
        "settings": SchedulerSettings(),
        "prefs": SchedulingPreferences(),
        "timezone": "UTC",
        "now": T0,
        "horizon": (T0, T0 + timedelta(days=5)),
        "busy": (),
        "weekly_capacity_hours": None,
        "billable_share_target": None,
        "previous": (),
        "warnings": warnings,
    }


def test_inconsistent_task_is_validation_failed_naming_it():
    bad = TaskInput("x", "X", 1, earliest_start=T0, deadline=T0 - timedelta(hours=1))
    with pytest.raises(ValidationFailed) as exc:
        to_core_task(bad, set(), 15, [])
    assert exc.value.errors[0]["field"] == "tasks.x"


def test_pins_that_do_not_fit_are_ignored():
    meta = {"pinned": [{"start": T0.isoformat(), "end": (T0 + timedelta(hours=3)).isoformat()}]}
    warnings: list[str] = []
    task = to_core_task(TaskInput("p", "P", 1, metadata=meta), set(), 15, warnings)
    assert task.pinned == () and warnings


def test_limits_refine_settings_with_preferences():
    settings = SchedulerSettings(workday_start="08:00", workday_end="18:00", buffer_minutes=5)
    prefs = SchedulingPreferences(
        not_before=time(10),
        daily_max_hours=6,
        working_days=[0, 1, 2],
        preferred_windows=[PreferredWindowIn(start=time(7), end=time(12))],
    )
    rules = limits(settings, prefs, [])
    assert {(w.weekday, w.start, w.end) for w in rules.working_hours} == {
        (d, time(10), time(18)) for d in (0, 1, 2)
    }
    assert {(p.weekday, p.start, p.end) for p in rules.preferred} == {
        (d, time(10), time(12)) for d in (0, 1, 2)
    }
    assert rules.buffer_minutes == 5 and rules.daily_max_minutes == 360


def test_impossible_preferences_fall_back_to_settings():
    warnings: list[str] = []
    rules = limits(SchedulerSettings(), SchedulingPreferences(not_before=time(18)), warnings)
    assert rules.working_hours[0].start == time(9) and warnings


def test_moves_pair_old_and_new_blocks_per_task():
    a = Block("a", 0, T0, T0 + timedelta(hours=1))
    b = Block("b", 0, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    b_new = Block("b", 0, T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    found = moves([a, b], [a, b_new])
    assert [(m.task_key, m.old, m.new) for m in found] == [("b", b, b_new)]
    assert moves([a], [a]) == []


def test_why_moved_names_the_busy_event_the_dependency_or_the_displaced_sibling():
    def hours(a: float, b: float, task: str, chunk: int = 0) -> Block:
        return Block(task, chunk, T0 + timedelta(hours=a), T0 + timedelta(hours=b), "free")

    tasks = (
        Task("a", "Draft", 120, splittable=True, min_chunk_minutes=60),
        Task("b", "Send", 60, depends_on=("a",)),
        Task("c", "Other", 60),
    )
    before = [hours(0, 1, "a"), hours(2, 3, "a", 1), hours(3, 4, "b"), hours(4, 5, "c")]
    after = [hours(1, 2, "a"), hours(24, 25, "a", 1), hours(25, 26, "b"), hours(5, 6, "c")]
    problem = Problem(
        tasks=tasks,
        now=T0,
        horizon_start=T0,
        horizon_end=T0 + timedelta(days=3),
        busy=(Interval(T0, T0 + timedelta(hours=1)),),
    )
    for scope, other in (("repair", "re-placed: free"), ("widened", "re-placed to make room")):
        schedule = Schedule(tuple(after), (), SolveStatus.FEASIBLE, scope=scope)
        whys = [why_moved(m, problem, schedule) for m in moves(before, after)]
        assert whys[0] == "its old time now overlaps a busy event"
        assert whys[1].startswith("another block of the task now overlaps a busy event")
        assert whys[2].startswith("must follow 'Draft', which now ends later")
        assert whys[3].startswith(other)
    # A widened replan names what it made room for.
    schedule = Schedule(tuple(after), (), SolveStatus.FEASIBLE, scope="widened", restored=("b",))
    whys = [why_moved(m, problem, schedule) for m in moves(before, after)]
    assert whys[3].startswith("re-placed to make room for 'Send', whose place or deadline")
    # A block whose old time another task now takes says which.
    after[3] = hours(6, 7, "c")
    taken = [*after[:3], hours(4, 5, "b"), after[3]]
    schedule = Schedule(tuple(taken), (), SolveStatus.FEASIBLE, scope="repair")
    why = [why_moved(m, problem, schedule) for m in moves(before, taken) if m.task_key == "c"]
    assert why == ["its old time now goes to 'Send'; re-placed: " + taken[-1].reason]


def test_almanac_ids_round_trip():
    assert parse_almanac_id("plan12-research-phase-3") == (12, "research-phase", 3)
    assert parse_almanac_id("meeting-123") is None
