"""The library note (`fallback.library_note`) after a figure is set by hand (`hand.hand_set`):
hunt16pl's new words for a library plan no past run calibrated were left as they were."""

from __future__ import annotations

from typing import Any

from almanac.planner.fallback import library_note
from almanac.planner.hand import hand_set


def _meta(note: str, bases: dict[str, str]) -> dict[str, Any]:
    return {
        "notes": [note],
        "estimates": [{"task_id": k, "hours": 2.0, "basis": b} for k, b in bases.items()],
        "calibration": [],
    }


def _note(*, calibrated: bool, mode: str = "auto") -> str:
    return library_note(
        "Onboarding",
        0.9,
        adapted_to_deadline=True,
        calibrated=calibrated,
        mode=mode,
        tried_llm=False,
    )


def test_a_fresh_library_note_names_the_figures_set_by_hand() -> None:
    # It still said "with the library's estimates (no past runs ...)" beside a figure set
    # by hand, while a calibrated plan's note said "(but not audit)".
    meta = _meta(_note(calibrated=False), {"audit": "library", "kickoff": "library"})
    meta["estimates"][0]["basis"] = "hand"
    (note, hand) = hand_set(meta, {"audit": (2.0, 5.0)}, meta)["notes"]
    assert note.endswith(
        "with the library's estimates (no past runs to calibrate them from yet) (but not audit)."
    ), note
    assert hand == "Set by hand after planning (not calibrated): audit (2 h → 5 h)."
    asked = _meta(_note(calibrated=False, mode="library"), {"audit": "hand"})
    (note, _) = hand_set(asked, {"audit": (2.0, 5.0)}, asked)["notes"]
    assert note.endswith("with the library's estimates (but not audit)."), note


def test_a_plan_whose_only_calibrated_figure_was_set_by_hand_is_no_longer_calibrated() -> None:
    # It kept "calibrated from history (but not audit)" with no figure from history left.
    meta = _meta(_note(calibrated=True), {"audit": "hand", "kickoff": "library"})
    (note, _) = hand_set(meta, {"audit": (4.0, 9.0)}, meta)["notes"]
    assert "calibrated from history" not in note, note
    assert note.endswith(
        "adapted to the deadline and with the library's estimates (but not audit)."
    )
    # With another figure still from history, the note keeps saying so, bar the exception.
    still = _meta(_note(calibrated=True), {"audit": "hand", "kickoff": "workflow"})
    (note, _) = hand_set(still, {"audit": (4.0, 9.0)}, still)["notes"]
    assert note.endswith("calibrated from history (but not audit)."), note


def test_the_only_calibrated_figure_set_back_brings_calibrated_from_history_back() -> None:
    # Set by hand, the plan's one figure from history made the note the library's words;
    # set back to its calibrated figure, the note kept them (the two reviews' rules met).
    before = _meta(_note(calibrated=True), {"audit": "workflow", "kickoff": "library"})
    before["estimates"][0]["hours"] = 4.0
    edited = {
        **before,
        "estimates": [
            {**before["estimates"][0], "basis": "hand", "hours": 9.0},
            before["estimates"][1],
        ],
    }
    after = {**edited, **hand_set(edited, {"audit": (4.0, 9.0)}, before)}
    assert "calibrated from history" not in after["notes"][0], after["notes"]
    back = {**after, "estimates": [{**after["estimates"][0], "hours": 4.0}, after["estimates"][1]]}
    notes = hand_set(back, {"audit": (9.0, 4.0)}, after)["notes"]
    assert notes == [_note(calibrated=True)], notes
