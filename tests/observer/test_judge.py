"""The narrative judge (pure): only the report's figures, no repeated sentences."""

from __future__ import annotations

from almanac.observer.judge import judge_narrative, report_numbers

REPORT = {
    "period": {"start": "2026-11-09", "end": "2026-11-15"},
    "numbers": {"tasks_planned": 12, "hours_estimated": 17.5, "hours_actual": 21.25},
    "billable": {"share": 0.62},
}


def test_the_reports_figures_as_a_person_writes_them_pass() -> None:
    text = (
        "You planned 12 tasks for the week of 2026-11-09. Estimates said 17.5 h and the "
        "work took 21.3 h, about 21 h. 62% of it was billable."
    )
    assert judge_narrative(text, REPORT) == []


def test_invented_and_malformed_figures_are_named() -> None:
    (reason,) = judge_narrative("It took 172.1222.1222 h, or 93.5 h.", REPORT)
    assert "172.1222.1222" in reason and "93.5" in reason


def test_a_repeated_sentence_is_rejected_but_small_counts_pass() -> None:
    assert judge_narrative("Two of 3 tasks slipped.", REPORT) == []
    reasons = judge_narrative("The week went well. The week went well.", REPORT)
    assert reasons and "repeats itself" in reasons[0]


def test_numbers_come_from_values_and_strings() -> None:
    numbers = report_numbers({"a": [1.5, {"b": "drift above 30%"}], "c": True})
    assert {1.5, 30.0} <= numbers and 1.0 not in numbers
