"""What the service says of a pinned task whose dependency could not go before it (pure)."""

from __future__ import annotations

from datetime import UTC

from almanac.models import Task as TaskRow
from almanac.scheduler import calendar_model as cm
from almanac.scheduler.core import Block, Interval, Problem, Task
from almanac.scheduler.core.greedy import greedy_schedule
from almanac.scheduler.pin_order import explain, gaps, order_conflicts, releasable

from .core.helpers import LONDON, at, checked, make_problem

TITLES = {"p1/t0": "Draft", "p1/t3": "Send", "p2/a": "Invoice run", "p2/b": "Invoice mail"}


def _problem() -> Problem:
    """Monday is all meetings: neither dependency finds time before its pinned dependent."""
    tasks = [
        Task("p1/t0", "Draft", 120),
        Task("p1/t3", "Send", 60, depends_on=("p1/t0",), pinned=(Interval(at(1, 9), at(1, 10)),)),
        Task("p2/a", "Invoice run", 120),
        Task(
            "p2/b",
            "Invoice mail",
            60,
            depends_on=("p2/a",),
            pinned=(Interval(at(1, 10), at(1, 11)),),
        ),
    ]
    return make_problem(tasks, busy=(Interval(at(0, 8), at(0, 18)),), time_limit_seconds=1)


def _inputs(named: int) -> cm.CalendarInputs:
    inputs = cm.CalendarInputs(named, {})
    inputs.rows = {cid: TaskRow(title=title) for cid, title in TITLES.items()}
    inputs.user_pins = {("p1/t3", at(1, 9).astimezone(UTC))}
    inputs.kept_outside = {("p2/b", at(1, 10).astimezone(UTC))}
    return inputs


def test_each_pin_without_its_dependency_before_it_is_said_and_other_plans_by_key() -> None:
    problem = _problem()
    for schedule in (checked(problem), checked(problem, greedy_schedule)):
        assert {(g.task, g.dep, g.missing) for g in gaps(problem, schedule)} == {
            ("p1/t3", "p1/t0", True),
            ("p2/b", "p2/a", True),
        }
        told = explain(problem, schedule, _inputs(1), LONDON)
        mine, theirs = sorted(told.warnings, key=lambda w: "'Send'" not in w)
        assert "task 'Send' is pinned by you at Tue 04 Mar 09:00" in mine
        assert "'Draft' is not placed" in mine and "move 'Send' later" in mine
        # Another plan's tasks by "<plan>/<key>": its titles may be another client's.
        assert "task '2/b' is kept outside this run's window at Tue 04 Mar 10:00" in theirs
        assert "'2/a' is not placed" in theirs and "schedule plan 2 again" in theirs
        assert "Invoice" not in " ".join(told.warnings)
        detail = {u.task_id: u.detail for u in told.schedule.unplaced}
        assert (
            "'Send', which depends on it, is pinned by you at Tue 04 Mar 09:00" in detail["p1/t0"]
        )
        assert "p1/t3" not in detail["p1/t0"]  # the core's id, now its title
        note = told.notes[("p1/t3", at(1, 9).astimezone(UTC))]
        assert note == "its dependency 'Draft' could not be placed before it"
        # Only the named plan's blocks the scheduler kept are given up, never the user's pin.
        assert releasable(problem, schedule, _inputs(1), LONDON)[0] == frozenset()
        free, lines = releasable(problem, schedule, _inputs(2), LONDON)
        assert free == {"p2/b"} and len(lines) == 1 and "'Invoice mail' was kept" in lines[0]


def test_a_dependency_with_room_before_its_pin_is_nothing_to_say() -> None:
    problem = make_problem(_problem().tasks, time_limit_seconds=1)  # Monday free
    schedule = checked(problem)
    assert gaps(problem, schedule) == []
    told = explain(problem, schedule, _inputs(1), LONDON)
    assert (told.warnings, told.notes, told.schedule) == ([], {}, schedule)


def test_the_view_marks_a_block_whose_dependency_is_missing_or_ends_after_it() -> None:
    deps = {"t0": "Draft"}
    before = [Block("t0", 0, at(0, 9), at(0, 11))]
    assert order_conflicts(at(0, 11), deps, before, LONDON) == []
    assert order_conflicts(at(0, 10), deps, before, LONDON) == [
        "starts before its dependency 'Draft' ends (Mon 03 Mar 11:00)"
    ]
    assert order_conflicts(at(0, 10), deps, [], LONDON) == [
        "its dependency 'Draft' has no block before it (not placed)"
    ]
