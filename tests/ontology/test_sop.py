"""Whole-plan checks: the things an LLM gets wrong with every field valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from almanac.ontology.sop import SOP, check_sop, find_cycle, working_hours_between


def sop(*tasks: dict[str, object]) -> SOP:
    return SOP.model_validate(
        {"title": "t", "steps": [{"id": "s", "title": "S", "tasks": list(tasks)}]}
    )


def t(id: str, hours: float = 1.0, *deps: str) -> dict[str, object]:
    return {"id": id, "title": id.upper(), "estimate_hours": hours, "depends_on": list(deps)}


def test_a_consistent_plan_has_no_problems() -> None:
    assert check_sop(sop(t("a"), t("b", 2, "a"), t("c", 1, "a", "b"))) == []


def test_duplicate_ids_are_named_with_both_places() -> None:
    problems = check_sop(sop(t("a"), t("a")))
    assert [p.field for p in problems] == ["steps[0].tasks[1].id"]
    assert "steps[0].tasks[0]" in problems[0].message


def test_unknown_dependency_and_self_dependency() -> None:
    problems = check_sop(sop(t("a", 1, "ghost"), t("b", 1, "b")))
    messages = " | ".join(p.message for p in problems)
    assert "'ghost', which is not a task of this plan" in messages
    assert "cannot depend on itself" in messages


def test_cycle_is_reported_as_a_path() -> None:
    problems = check_sop(sop(t("a", 1, "c"), t("b", 1, "a"), t("c", 1, "b")))
    assert len(problems) == 1
    assert problems[0].message.startswith("dependency cycle: ")
    path = problems[0].message.removeprefix("dependency cycle: ").split(" -> ")
    assert path[0] == path[-1] and set(path) == {"a", "b", "c"}


def test_find_cycle_none_on_a_dag() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


def test_find_cycle_follows_chains_longer_than_the_recursion_limit() -> None:
    # t0 waits for t1, ... t2999 for nothing: depth-first from t0 goes 3,000 deep.
    n = 3000
    chain = {f"t{i}": [f"t{i + 1}"] if i < n - 1 else [] for i in range(n)}
    assert find_cycle(chain) is None
    closed = {**chain, f"t{n - 1}": ["t0"]}
    cycle = find_cycle(closed)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == n + 1
    # The cycle found is a real path of dependencies.
    assert all(b in closed[a] for a, b in zip(cycle, cycle[1:], strict=False))
    # A tail into a cycle: only the cycle is reported.
    assert find_cycle({"x": ["a"], "a": ["b"], "b": ["a"]}) in (["a", "b", "a"], ["b", "a", "b"])


def test_total_must_fit_before_the_deadline() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=UTC)
    friday_evening = monday + timedelta(days=4, hours=8)
    # Five working days at 6 h = 30 h.
    assert working_hours_between(monday, friday_evening, 6.0) == 30.0
    assert check_sop(sop(t("a", 30)), now=monday, deadline=friday_evening) == []
    problems = check_sop(sop(t("a", 20), t("b", 11)), now=monday, deadline=friday_evening)
    assert [p.field for p in problems] == ["deadline"]
    assert "31 h" in problems[0].message


def test_no_more_hours_are_available_than_pass_before_the_deadline() -> None:
    # A deadline 2 h away on a Tuesday afternoon counted the whole day: 6 h for a 3 h plan.
    tuesday = datetime(2026, 11, 24, 13, tzinfo=UTC)
    assert working_hours_between(tuesday, tuesday + timedelta(hours=2), 6.0) == 2.0
    problems = check_sop(sop(t("a", 3)), now=tuesday, deadline=tuesday + timedelta(hours=2))
    assert [p.field for p in problems] == ["deadline"]
    assert "only about 2 h of working time" in problems[0].message
    assert check_sop(sop(t("a", 2)), now=tuesday, deadline=tuesday + timedelta(hours=2)) == []


def test_the_hours_that_pass_are_counted_in_real_time_across_dst() -> None:
    # Both in one zone, Python subtracts by wall time: Israel moves its clocks on a Friday
    # at 02:00, so Thursday 23:00 to Friday 13:00 is 13 h, not the 14 h counted.
    jerusalem = ZoneInfo("Asia/Jerusalem")
    thursday = datetime(2026, 3, 26, 23, tzinfo=jerusalem)
    friday = datetime(2026, 3, 27, 13, tzinfo=jerusalem)
    assert working_hours_between(thursday, friday, 8.0) == 13.0
    problems = check_sop(sop(t("a", 13.5)), now=thursday, deadline=friday, hours_per_day=8.0)
    assert [p.field for p in problems] == ["deadline"]


@pytest.mark.parametrize(
    "bad",
    [
        {"estimate_hours": 0},
        {"estimate_hours": -1},
        {"id": "has space"},
        {"priority": 9},
        {"deadline": "2026-11-23T09:00:00"},
    ],
)
def test_field_level_nonsense_is_rejected_by_the_schema(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        sop({**t("a"), **bad})
