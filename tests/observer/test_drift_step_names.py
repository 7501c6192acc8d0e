"""A reflection is remembered as the user's own, so every client's plans recall it, and
its narrative is written by an LLM shown the report: a step of a workflow that the library
does not define (a task the LLM added to one client's plan, its id made from that client's
context) is counted in both, never named; the library's own steps are named as before. The
stored report, which only the user reads, keeps every step's key."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from almanac.observer.narrative import reflection_summary, shared_report
from almanac.observer.report import build_report
from almanac.observer.rows import RunRow, WorkflowInfo
from almanac.scheduler.day_limits import DayLimits

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
INFO = {
    1: WorkflowInfo(
        "Client onboarding", estimate_hours=3.5, library_tasks={"kickoff": 1.5, "audit": 2.0}
    )
}
OWN = "initech-legal-review"  # the LLM's id for a task of one client's plan


def runs() -> list[RunRow]:
    out = []
    for n in range(4):
        for m, (key, est, actual) in enumerate(
            (("kickoff", 1.5, 2.5), ("audit", 2.0, 2.0), (OWN, 1.0, 2.0))
        ):
            out.append(
                RunRow(
                    id=10 * n + m,
                    status="completed",
                    task_id=10 * n + m,
                    task_key=key,
                    instance_id=n,
                    workflow_id=1,
                    started_at=T0 + timedelta(days=n, hours=m),
                    ended_at=None,
                    estimated_hours=est,
                    actual_hours=actual,
                    billable=True,
                )
            )
    return out


def test_a_step_the_library_does_not_define_is_counted_not_named() -> None:
    report = build_report(
        mode="weekly",
        first=date(2026, 10, 5),
        last=date(2026, 10, 11),
        tz=ZoneInfo("UTC"),
        now=datetime(2026, 10, 12, tzinfo=UTC),
        tasks=[],
        runs=runs(),
        blocks=[],
        sprint=None,
        workflows=INFO,
        day_limits=DayLimits.flat(8),
    )
    steps = [d["step"] for d in report["drift"] if d["kind"] == "step"]
    assert steps == ["initech-legal-review", "kickoff"]  # the user's own report keeps them
    remembered = reflection_summary(report, None)
    assert "step kickoff of workflow Client onboarding ran 66.7% over" in remembered
    assert "a step of workflow Client onboarding outside its library ran 100% over" in (remembered)
    prompt = json.dumps(shared_report(report), default=str)
    assert "kickoff" in prompt
    assert OWN not in remembered and OWN not in prompt


def test_steps_outside_the_library_are_one_line_not_one_alike_line_each() -> None:
    """Three clients' plans each added a step of their own to the workflow, all running
    over: unnamed, they read as three identical lines; one line counts them."""
    own = ["acme-legal-review", "initech-legal-review", "globex-legal-review"]
    rows = [
        RunRow(
            id=100 * n + m,
            status="completed",
            task_id=100 * n + m,
            task_key=key,
            instance_id=100 + n,
            workflow_id=1,
            started_at=T0 + timedelta(days=n, hours=m),
            ended_at=None,
            estimated_hours=1.0,
            actual_hours=2.0 if m < 2 else 1.5,
            billable=True,
        )
        for n in range(4)
        for m, key in enumerate(own)
    ]
    report = build_report(
        mode="weekly",
        first=date(2026, 10, 5),
        last=date(2026, 10, 11),
        tz=ZoneInfo("UTC"),
        now=datetime(2026, 10, 12, tzinfo=UTC),
        tasks=[],
        runs=rows,
        blocks=[],
        sprint=None,
        workflows=INFO,
        day_limits=DayLimits.flat(8),
    )
    assert sorted(d["step"] for d in report["drift"] if d["kind"] == "step") == sorted(own)
    lines = report["recommendations"]
    assert len(lines) == len(set(lines)), lines
    outside = [r for r in lines if "outside its library" in r]
    assert outside == [
        "3 steps of workflow Client onboarding outside its library ran 50% to 100% over "
        "their estimates in their last 4 runs: raise their estimates"
    ], lines
    assert not any(k in r for r in lines for k in own)
