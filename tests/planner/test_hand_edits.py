"""A plan's explanations after several estimates set by hand stay true (pure)."""

from __future__ import annotations

from typing import Any

from almanac.ontology.sop import stored_sop
from almanac.planner.estimates import explained_after_edit, explained_after_task_edit
from almanac.planner.hand import HAND_NOTE, adjusted_note

PLANNED = "No LLM was used: this plan is the library workflow 'x', calibrated from history."


def _est(key: str, hours: float) -> dict[str, Any]:
    return {
        "task_id": key,
        "workflow_id": 1,
        "workflow_task": key,
        "library_hours": 4.0,
        "hours": hours,
        "low_hours": hours - 1,
        "high_hours": hours + 1,
        "ratio": hours / 4,
        "basis": "workflow",
        "note": "calibrated from 4 runs",
    }


def _cal(key: str, to: float) -> dict[str, Any]:
    return {"task_id": key, "from_hours": 4.0, "to_hours": to, "ratio": to / 4}


def _meta(*keys: str) -> dict[str, Any]:
    cals = [_cal(k, 6.0) for k in keys]
    return {
        "estimates": [_est(k, 6.0) for k in keys],
        "calibration": cals,
        "notes": [
            PLANNED,
            f"{len(cals)} estimate(s) adjusted from past execution runs (+{2 * len(cals)} h "
            "in total).",
        ],
    }


def _edits(meta: dict[str, Any], key: str, figures: list[float]) -> dict[str, Any]:
    was = 6.0
    for hours in figures:
        meta = {**meta, **explained_after_task_edit(meta, key, was, hours, 5)}
        was = hours
    return meta


def test_an_estimate_set_by_hand_again_keeps_one_note_of_what_it_was() -> None:
    """Each PATCH wrapped the entry's note in one more "(was ...)": after three edits it
    read "set by hand on task 5 (was 12 h: set by hand on task 5 (was 9 h: ...)))", and
    the plan's metadata grew with every edit."""
    meta = _edits(_meta("audit", "other"), "audit", [9.0, 12.0, 10.0])
    (audit,) = [e for e in meta["estimates"] if e["task_id"] == "audit"]
    assert audit["hours"] == 10.0 and audit["basis"] == "hand"
    assert audit["note"] == "set by hand on task 5 (was 6 h: calibrated from 4 runs)"
    assert f"{HAND_NOTE}audit (6 h → 10 h)." in meta["notes"]


def test_an_estimate_set_back_to_its_calibrated_figure_is_calibrated_again() -> None:
    """Set by hand and back to the calibrated 6 h, the plan said "audit (6 h → 6 h)" was
    set by hand and not calibrated, its calibration gone and the adjusted count one short,
    although the figure was the calibrated one."""
    start = _meta("audit", "other")
    meta = _edits(start, "audit", [9.0, 6.0])
    assert meta["estimates"] == start["estimates"]
    assert sorted(meta["calibration"], key=str) == sorted(start["calibration"], key=str)
    assert meta["notes"] == start["notes"]
    assert not meta["hand_set"]
    # With the only calibrated task, its "adjusted" note comes back too.
    start = _meta("audit")
    meta = _edits(start, "audit", [9.0])
    assert not any("adjusted" in n for n in meta["notes"]), meta["notes"]
    meta = _edits(meta, "audit", [6.0])
    assert meta["notes"] == start["notes"]


def test_a_task_removed_from_the_plan_leaves_the_hand_set_note() -> None:
    """A SOP edit that removed a task set by hand kept "Set by hand ...: b (6 h → 9 h)" and
    "(but not b)" in the notes: figures of a task the plan no longer has."""
    meta = _edits(_meta("a", "b"), "b", [9.0])
    assert any(n.startswith(HAND_NOTE) for n in meta["notes"])
    sop = stored_sop(
        {
            "title": "P",
            "steps": [
                {
                    "id": "s",
                    "title": "S",
                    "tasks": [{"id": "a", "title": "A", "estimate_hours": 6.0}],
                }
            ],
        }
    )
    out = explained_after_edit(meta, sop, 3)
    notes = out.get("notes", meta["notes"])
    assert notes == [PLANNED, "1 estimate(s) adjusted from past execution runs (+2 h in total)."]
    assert not out["hand_set"]


def test_the_adjusted_total_is_in_hundredths_when_rises_and_falls_cancel() -> None:
    """A plan whose calibrated figures rose and fell by as much said "4 estimate(s)
    adjusted from past execution runs (-2.22045e-16 h in total)" (the float sum of
    +0.25, +0.85, -0.65, -0.45 h: the hunt's site audit for one client). Rewritten after a
    hand edit of a fifth task, and as first written, it says +0 h."""
    figures = {
        "crawl": (3.0, 3.25),
        "tech": (4.0, 4.85),
        "content": (3.0, 2.35),
        "report": (2.0, 1.55),
    }
    cals = [
        {"task_id": k, "from_hours": f, "to_hours": t, "ratio": t / f}
        for k, (f, t) in figures.items()
    ]
    assert adjusted_note(4, sum(t - f for f, t in figures.values())) == (
        "4 estimate(s) adjusted from past execution runs (+0 h in total)."
    )
    meta = {
        "estimates": [*(_est(k, t) for k, (_, t) in figures.items()), _est("brief", 6.0)],
        "calibration": [*cals, _cal("brief", 6.0)],
        "notes": [PLANNED, "5 estimate(s) adjusted from past execution runs (+2 h in total)."],
    }
    meta = _edits(meta, "brief", [4.0])
    assert "4 estimate(s) adjusted from past execution runs (+0 h in total)." in meta["notes"]
