"""The pure report: drift at the threshold's edges, periods in the user's zone, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from almanac.observer.report import build_report, drift, period_bounds, samples
from almanac.observer.rows import BlockRow, RunRow, SprintRow, TaskRow, WorkflowInfo
from almanac.scheduler.day_limits import DayLimits

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
INFO = {1: WorkflowInfo("Onboarding", estimate_hours=10.0)}


def run(
    n: int,
    est: float,
    actual: float,
    *,
    instance: int | None = None,
    key: str = "a",
    task: int | None = None,
    workflow: int | None = 1,
) -> RunRow:
    return RunRow(
        id=n,
        status="completed",
        task_id=task if task is not None else n,
        task_key=key,
        instance_id=instance if instance is not None else n,
        workflow_id=workflow,
        started_at=T0 + timedelta(days=n),
        ended_at=None,
        estimated_hours=est,
        actual_hours=actual,
        billable=False,
    )


@pytest.mark.parametrize(
    ("actual", "is_drift"),
    [(13.0, False), (13.01, True), (7.0, False), (6.99, True)],
)
def test_drift_is_strictly_above_thirty_percent(actual: float, is_drift: bool) -> None:
    # 13 h against 10 h is exactly 30% (30.000000000000004 in floating point): not drift;
    # 13.01 h is 30.1%. The same holds under the estimate.
    runs = [run(1, 10, actual), run(2, 10, actual)]
    found = [d for d in drift(runs, INFO) if d["kind"] == "workflow"]
    assert bool(found) is is_drift
    if found:
        assert found[0]["mean_variance_pct"] == pytest.approx((actual - 10) * 10, abs=0.05)


def test_the_threshold_is_a_parameter() -> None:
    runs = [run(1, 10, 12), run(2, 10, 12)]  # 20%
    assert drift(runs, INFO, threshold_pct=30) == []
    assert drift(runs, INFO, threshold_pct=20) == []
    assert [d["kind"] for d in drift(runs, INFO, threshold_pct=19.9)] == ["workflow", "step"]


def test_drift_looks_at_the_last_runs_only_and_needs_two() -> None:
    # Two old disasters, then four runs on the estimate: no drift with a window of 4.
    runs = [run(1, 10, 30), run(2, 10, 30), *(run(n, 10, 10) for n in range(3, 7))]
    assert drift(runs, INFO, window=4) == []
    assert drift(runs, INFO, window=6) != []
    assert drift([run(1, 10, 20)], INFO) == []  # one run is not a pattern


def test_drift_recommendation_names_the_workflow_and_the_new_estimate() -> None:
    info = {1: WorkflowInfo("Onboarding", estimate_hours=4.5, suggested_hours=6.5)}
    runs = [run(n, 4.5, 4.5 * 1.45) for n in range(1, 5)]
    report = _report(runs=runs, workflows=info)
    assert report["recommendations"][0] == (
        "workflow Onboarding ran 45% over its estimate in its last 4 runs: "
        "raise its estimate to 6.5 h"
    )


def test_an_instance_is_one_workflow_run_and_a_resumed_task_counts_its_estimate_once() -> None:
    rows = [
        run(1, 2, 1.5, instance=7, task=70, key="a"),
        run(2, 2, 1.5, instance=7, task=70, key="a"),  # the same task resumed
        run(3, 3, 3, instance=7, task=71, key="b"),
    ]
    by_key = {s.key: s for s in samples(rows)}
    assert (by_key[(1, None)].estimated, by_key[(1, None)].actual) == (5, 6)
    assert (by_key[(1, "a")].estimated, by_key[(1, "a")].actual) == (2, 3)


def test_weekly_period_is_monday_to_sunday_in_the_users_zone() -> None:
    tz = ZoneInfo("Europe/Berlin")
    first, last, start, end = period_bounds(date(2026, 11, 12), "weekly", tz)  # a Thursday
    assert (first, last) == (date(2026, 11, 9), date(2026, 11, 15))
    assert start == datetime(2026, 11, 8, 23, tzinfo=UTC)
    assert end == datetime(2026, 11, 15, 23, tzinfo=UTC)


def test_a_week_with_the_dst_change_has_169_hours() -> None:
    # New York leaves daylight saving time on Sunday 2026-11-01 at 02:00.
    tz = ZoneInfo("America/New_York")
    first, last, start, end = period_bounds(date(2026, 10, 28), "weekly", tz)
    assert (first, last) == (date(2026, 10, 26), date(2026, 11, 1))
    assert end - start == timedelta(hours=169)
    assert start == datetime(2026, 10, 26, 4, tzinfo=UTC)  # midnight EDT
    late_sunday = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # 23:30 EST on Sunday 1 Nov
    after = datetime(2026, 11, 2, 5, 30, tzinfo=UTC)  # 00:30 EST on Monday
    rows = [
        RunRow(1, "completed", 1, "a", None, None, late_sunday, None, 1.0, 1.25, False),
        RunRow(2, "completed", 2, "a", None, None, after, None, 1.0, 4.0, False),
    ]
    report = build_report(
        mode="weekly",
        first=first,
        last=last,
        tz=tz,
        now=after,
        tasks=[],
        runs=rows,
        blocks=[],
        sprint=None,
        workflows={},
        day_limits=DayLimits.flat(6),
    )
    assert report["numbers"]["hours_actual"] == 1.25


def _report(**kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "mode": "weekly",
        "first": date(2026, 11, 9),
        "last": date(2026, 11, 15),
        "tz": ZoneInfo("UTC"),
        "now": datetime(2026, 11, 16, tzinfo=UTC),
        "tasks": [],
        "runs": [],
        "blocks": [],
        "sprint": None,
        "workflows": {},
        "day_limits": DayLimits.flat(6.0),
    }
    args.update(kw)
    return build_report(**args)  # type: ignore[arg-type]


def test_billable_target_applies_only_with_short_runway() -> None:
    day = datetime(2026, 11, 10, 9, tzinfo=UTC)
    rows = [
        RunRow(1, "completed", 1, "a", None, None, day, None, 1, 5, True),
        RunRow(2, "completed", 2, "b", None, None, day, None, 1, 5, False),
    ]
    short = SprintRow(date(2026, 11, 9), 30, 60, 11.5)
    long = SprintRow(date(2026, 11, 9), 30, 60, 12)
    b_short = _report(runs=rows, sprint=short)["billable"]
    b_long = _report(runs=rows, sprint=long)["billable"]
    assert b_short == {
        "billable_hours": 5,
        "worked_hours": 10,
        "share_pct": 50.0,
        "target_pct": 60,
        "runway_weeks": 11.5,
        "target_applies": True,
        "below_target": True,
    }
    assert b_long["below_target"] is False  # type: ignore[index]


def test_overbooked_days_are_counted_per_local_day() -> None:
    ny = ZoneInfo("America/New_York")
    # 18:00-22:00 local, then 22:00-24:00 local (03:00-05:00 UTC on Wednesday): 6 h Tuesday
    # in New York, but 4 h Tuesday and 2 h Wednesday in UTC.
    blocks = [
        BlockRow(
            1,
            "a",
            datetime(2026, 11, 10, 18, tzinfo=ny),
            datetime(2026, 11, 10, 22, tzinfo=ny),
            None,
            None,
        ),
        BlockRow(
            2,
            "b",
            datetime(2026, 11, 11, 3, tzinfo=UTC),
            datetime(2026, 11, 11, 5, tzinfo=UTC),
            None,
            None,
        ),
    ]
    tasks = [
        TaskRow(1, "A", 4, "done", None, None, False),
        TaskRow(2, "B", 2, "todo", None, None, False),
    ]
    cap = DayLimits.flat(5.5)
    local = _report(tz=ny, blocks=blocks, tasks=tasks, day_limits=cap)
    over = [{"day": "2026-11-10", "hours": 6.0, "max_hours": 5.5, "limit": "daily max"}]
    assert local["overbooked_days"] == over
    assert _report(tz=ny, blocks=blocks, tasks=tasks)["overbooked_days"] == []  # 6 h is the max
    assert _report(blocks=blocks, tasks=tasks, day_limits=cap)["overbooked_days"] == []


def test_a_day_is_held_to_the_smaller_of_its_daily_max_and_its_working_hours() -> None:
    def hours(day: int, h: float) -> BlockRow:
        start = datetime(2026, 11, day, 8, tzinfo=UTC)
        return BlockRow(day, f"t{day}", start, start + timedelta(hours=h), None, None)

    # Monday 7 h, Tuesday 5 h, Saturday 5 h (a block forced onto a day off).
    blocks = [hours(9, 7), hours(10, 5), hours(14, 5)]
    tasks = [TaskRow(d, f"T{d}", 1, "todo", None, None, False) for d in (9, 10, 14)]
    week = {d: 6.0 for d in range(4)} | {4: 4.0}  # Mon-Thu 6 h, Friday 4 h
    over = _report(blocks=blocks, tasks=tasks, day_limits=DayLimits(None, week))
    # Without a daily max a working day holds its working hours; a day off holds none,
    # with a daily max or without (it was held to the daily max, or to nothing).
    assert over["overbooked_days"] == [
        {"day": "2026-11-09", "hours": 7.0, "max_hours": 6.0, "limit": "working hours"},
        {"day": "2026-11-14", "hours": 5.0, "max_hours": 0.0, "limit": "day off"},
    ]
    capped = _report(blocks=blocks, tasks=tasks, day_limits=DayLimits(4.5, week))
    assert [(o["day"], o["limit"]) for o in capped["overbooked_days"]] == [
        ("2026-11-09", "daily max"),
        ("2026-11-10", "daily max"),
        ("2026-11-14", "day off"),
    ]


def test_hours_logged_on_an_open_task_count_as_worked_but_not_for_drift() -> None:
    # 1.5 h logged on a task still in progress: worked (and billable) today, but no
    # estimate-vs-actual sample until the task is done.
    day = datetime(2026, 11, 10, 9, tzinfo=UTC)
    rows = [
        RunRow(1, "in_progress", 1, "a", 7, 1, day, None, 1.0, 1.5, True),
        RunRow(2, "completed", 2, "b", 8, 1, day, day, 1.0, 0.5, False),
    ]
    report = _report(runs=rows)
    assert report["numbers"]["hours_actual"] == 2.0  # type: ignore[index]
    assert report["billable"]["worked_hours"] == 2.0  # type: ignore[index]
    assert report["billable"]["billable_hours"] == 1.5  # type: ignore[index]
    assert report["billable"]["share_pct"] == 75.0  # type: ignore[index]
    assert [s.actual for s in samples(rows)] == [0.5, 0.5]  # the completed run only


def test_hours_logged_on_a_later_day_count_on_that_day() -> None:
    # One run begun Monday, 1 h logged Monday and 2 h Tuesday: Tuesday's reflection has 2 h.
    monday = datetime(2026, 11, 9, 10, tzinfo=UTC)
    entries = ((monday + timedelta(hours=1), 1.0), (monday + timedelta(days=1, hours=6), 2.0))
    row = RunRow(1, "in_progress", 1, "a", None, None, monday, None, 1, 3, True, entries)
    tuesday = date(2026, 11, 10)
    daily = _report(runs=[row], mode="daily", first=tuesday, last=tuesday)
    assert daily["numbers"]["hours_actual"] == 2.0  # type: ignore[index]
    monday_only = _report(runs=[row], mode="daily", first=monday.date(), last=monday.date())
    assert monday_only["numbers"]["hours_actual"] == 1.0  # type: ignore[index]


def test_a_done_task_counts_in_the_period_it_was_finished() -> None:
    """A task's finish time says when it was done: finished on Tuesday of this week while
    planned for next week, it is done this week and not next; a row from before tasks kept
    a finish time still counts in the period it was planned in."""
    tuesday = datetime(2026, 11, 10, 15, tzinfo=UTC)
    next_week = datetime(2026, 11, 18, 9, tzinfo=UTC)
    tasks = [
        TaskRow(1, "A", 4, "done", next_week, None, False, tuesday),
        TaskRow(2, "B", 2, "done", tuesday, None, False),  # no finish time: planned here
        TaskRow(3, "C", 2, "todo", None, None, False),
    ]
    this = _report(tasks=tasks)["numbers"]
    assert this["tasks_done"] == 2, this  # type: ignore[index]
    later = _report(
        tasks=tasks,
        first=date(2026, 11, 16),
        last=date(2026, 11, 22),
        now=datetime(2026, 11, 23, tzinfo=UTC),
    )["numbers"]
    assert later["tasks_done"] == 0, later  # type: ignore[index]


def test_a_drift_is_measured_as_the_planner_measures_and_never_says_raise_to_less() -> None:
    """2 h and 25 h against a 10 h estimate read "ran 35% over its estimate: raise its
    estimate to 8.6 h": the mean of percentages counts an overrun more than an underrun of
    the same factor, while the planner (whose 8.6 h it quoted) weighs the two alike."""
    info = {1: WorkflowInfo("Security review", estimate_hours=10.0, suggested_hours=8.6)}
    # 0.2x and 2.5x: a typical factor of 0.71, 29% under, within the 30% of no drift.
    assert drift([run(1, 10, 2.0), run(2, 10, 25.0)], info) == []
    runs = [run(1, 10, 2.0), run(2, 10, 20.0)]  # the mean of percentages: 10% over
    (workflow,) = [d for d in drift(runs, info) if d["kind"] == "workflow"]
    assert workflow["mean_variance_pct"] == pytest.approx(-36.8, abs=0.05)
    report = _report(runs=runs, workflows=info)
    assert report["recommendations"][0] == (
        "workflow Security review ran 36.8% under its estimate in its last 2 runs: "
        "lower its estimate to 8.6 h"
    ), report["recommendations"]
    # Where the planner's figure (from all runs, every client) goes the other way than
    # these runs, the line says what the planner plans, not "raise" to a lower figure.
    info = {1: WorkflowInfo("Security review", estimate_hours=10.0, suggested_hours=9.5)}
    runs = [run(1, 10, 14.0), run(2, 10, 14.0)]
    line = _report(runs=runs, workflows=info)["recommendations"][0]
    assert line == (
        "workflow Security review ran 40% over its estimate in its last 2 runs; from all "
        "its runs the planner plans it at 9.5 h"
    ), line


def test_a_reflection_of_one_task_says_task_not_tasks() -> None:
    from almanac.observer.narrative import reflection_summary

    numbers = {"tasks_planned": 1, "tasks_done": 1, "hours_estimated": 2, "hours_actual": 2}
    report = {"mode": "daily", "period": {"start": "2026-12-04", "end": "2026-12-04"}}
    report["recommendations"] = []
    text = reflection_summary({**report, "numbers": numbers}, None)
    assert "1 task planned, 1 done" in text, text  # "1 tasks planned" before
    numbers["tasks_planned"] = 2
    assert "2 tasks planned" in reflection_summary({**report, "numbers": numbers}, None)
