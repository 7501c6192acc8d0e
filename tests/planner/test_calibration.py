"""Estimates learn from execution runs, and say by how much and why."""

from __future__ import annotations

from almanac.ontology.sop import SOP
from almanac.planner.calibration import calibrate, learn_ratios


def sop() -> SOP:
    return SOP.model_validate(
        {
            "title": "t",
            "steps": [
                {
                    "id": "s",
                    "title": "S",
                    "tasks": [
                        {"id": "audit", "title": "Audit", "estimate_hours": 4},
                        {"id": "call", "title": "Call", "estimate_hours": 1},
                    ],
                }
            ],
        }
    )


def hours(result: SOP) -> dict[str, float]:
    return {t.id: t.estimate_hours for t in result.tasks()}


def test_consistent_overrun_raises_the_estimate_and_explains_it() -> None:
    history = [("audit", 4, 6, 1), ("audit", 4, 6.5, 2), ("audit", 4, 5.5, 3)]
    result, changes = calibrate(sop(), history)
    assert hours(result) == {"audit": 6.0, "call": 1.0}
    (change,) = changes
    assert (change.task_id, change.from_hours, change.to_hours, change.runs) == ("audit", 4, 6.0, 3)
    assert change.basis == "task"
    assert "50% longer" in change.reason


def test_too_few_runs_change_nothing() -> None:
    result, changes = calibrate(sop(), [("audit", 4, 8, 1), ("audit", 4, 8, 2)])
    assert changes == [] and hours(result) == {"audit": 4.0, "call": 1.0}


def test_mixed_results_are_not_consistent() -> None:
    history = [("audit", 4, 2, 1), ("audit", 4, 8, 2), ("audit", 4, 7, 3), ("audit", 4, 2.5, 4)]
    tasks, overall = learn_ratios(history)
    assert tasks == {} and overall is None


def test_workflow_ratio_applies_to_tasks_without_their_own_history() -> None:
    history = [("other", 2, 1, 1), ("other2", 2, 1.2, 2), ("third", 4, 2, 2)]
    result, changes = calibrate(sop(), history)
    assert hours(result) == {"audit": 2.15, "call": 0.55}  # typical ratio 0.53
    assert {c.basis for c in changes} == {"workflow"}
    assert all("shorter" in c.reason for c in changes)


def test_ratio_is_capped() -> None:
    history = [("audit", 1, 10, n) for n in range(3)]
    result, changes = calibrate(sop(), history)
    assert hours(result)["audit"] == 8.0  # 4 h x 2.0, not x 10
    assert "(capped)" in changes[0].reason


def test_one_engagement_is_not_a_workflow_trend() -> None:
    history = [("other", 2, 3, 1), ("other2", 2, 3, 1), ("third", 4, 6, 1)]
    _, changes = calibrate(sop(), history)
    assert changes == []
