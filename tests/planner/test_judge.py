"""The plan judge (pure): nonsense is rejected, the library's own plans are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from almanac.ontology.sop import SOP
from almanac.planner.judge import echoes, judge_plan

LIBRARY = Path(__file__).resolve().parents[2] / "src/almanac/ontology/library"


def plan(*titles: str, hours: float = 2.0) -> SOP:
    tasks = [{"id": f"t{i}", "title": t, "estimate_hours": hours} for i, t in enumerate(titles)]
    return SOP.model_validate({"title": "p", "steps": [{"id": "s", "title": "s", "tasks": tasks}]})


def library_workflows() -> list[tuple[str, list[str], SOP]]:
    out = []
    for path in sorted(LIBRARY.glob("*.json")):
        data = json.loads(path.read_text())
        for w in data if isinstance(data, list) else [data]:
            if isinstance(w, dict) and "steps" in w:
                keywords = list((w.get("metadata") or {}).get("keywords", []))
                sop = SOP.model_validate({"title": w["name"], "steps": w["steps"]})
                out.append((w["name"], keywords, sop))
    return out


def test_the_starter_library_passes_its_own_judge() -> None:
    # No false positives: every library workflow, as its own adaptation, for its own name
    # and keywords as the intent, is a usable plan.
    workflows = library_workflows()
    assert len(workflows) >= 5
    for name, keywords, sop in workflows:
        for intent in [name, *keywords]:
            assert judge_plan(sop, intent=intent, skeleton=sop) == [], (name, intent)


def test_a_collapse_to_one_task_that_repeats_the_intent() -> None:
    skeleton = plan("Set up", "Kick off", "Audit", "Report", hours=4.375)
    reasons = judge_plan(
        plan("Launch an email newsletter for Acme", hours=4.35),
        intent="Launch an email newsletter for Acme",
        skeleton=skeleton,
    )
    assert any("only repeat the intent" in r for r in reasons)
    assert any("dropped most of the work" in r for r in reasons)


@pytest.mark.parametrize(
    ("title", "intent", "echo"),
    [
        ("Launch the newsletter for Acme", "Launch an email newsletter for Acme", False),
        ("Launch an email newsletter for Acme", "launch an email newsletter for acme!", True),
        ("Write proposal", "Write a proposal for a website redesign", False),
        ("Design the email template", "Launch an email newsletter", False),
    ],
)
def test_echoes(title: str, intent: str, echo: bool) -> None:
    assert echoes(title, intent) is echo


def test_hours_far_from_the_skeleton_and_duplicates() -> None:
    skeleton = plan("a", "b", "c", hours=2)
    assert judge_plan(plan("x", "y", "z", hours=0.1), intent="i", skeleton=skeleton) != []
    assert judge_plan(plan("x", "y", "z", hours=5), intent="i", skeleton=skeleton) == []
    assert any(
        "more than once" in r for r in judge_plan(plan("x", "X ", "z"), intent="i", skeleton=None)
    )
