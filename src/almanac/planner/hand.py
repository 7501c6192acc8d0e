"""A plan's explanations after an estimate was set by hand (pure).

A plan says where its figures came from (`estimates`, `calibration`, `notes`: "calibrated
from history", "2 estimate(s) adjusted from past execution runs"). When a figure is then
set by hand, on the plan's SOP or on its task, those words no longer hold for it: its
estimate entry says "set by hand", its calibration goes, and the notes say which figures
were set by hand since.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

HAND_NOTE = "Set by hand after planning (not calibrated): "
_CALIBRATED = re.compile(r"calibrated from history(?: \(but not [^)]*\))?\.$")
# The library note's words when no past run set a figure (`fallback.library_note`).
_LIBRARY = re.compile(
    r"with the library's estimates(?P<why> \(no past runs to calibrate them from yet\))?"
    r"(?: \(but not [^)]*\))?\.$"
)
HISTORY = ("workflow", "client")  # the bases of an estimate a past run set
_ADJUSTED = re.compile(r"^\d+ estimate\(s\) adjusted from past execution runs ")


def hand_set(
    meta: Mapping[str, Any], changes: Mapping[str, tuple[float | None, float]]
) -> dict[str, Any]:
    """`hand_set` and `notes` of a plan's metadata after each task key in `changes` was set
    by hand from the first figure to the second (None: a task new to the plan)."""
    kept = meta.get("hand_set")
    hand: dict[str, list[float | None]] = dict(kept) if isinstance(kept, dict) else {}
    for key, (old, new) in changes.items():
        first = hand[key][0] if isinstance(hand.get(key), list) and hand[key] else old
        hand[key] = [first, new]
    calibration = [c for c in meta.get("calibration") or [] if isinstance(c, dict)]
    # Whether a figure from history is left: a plan whose only calibrated figures were set
    # by hand is no longer "calibrated from history" at all.
    calibrated = any(
        isinstance(e, dict) and e.get("basis") in HISTORY for e in meta.get("estimates") or []
    )
    notes = _notes(meta.get("notes"), hand, calibration, calibrated)
    return {"hand_set": hand, "notes": notes}


def _notes(
    raw: Any,
    hand: Mapping[str, list[float | None]],
    calibration: list[dict[str, Any]],
    calibrated: bool,
) -> list[str]:
    notes = [str(n) for n in raw if isinstance(n, str)] if isinstance(raw, list) else []
    keys = ", ".join(sorted(hand))
    out = []
    for note in notes:
        if note.startswith(HAND_NOTE):
            continue
        if _ADJUSTED.match(note):
            if not calibration:
                continue
            total = sum(float(c["to_hours"]) - float(c["from_hours"]) for c in calibration)
            note = (
                f"{len(calibration)} estimate(s) adjusted from past execution runs "
                f"({total:+g} h in total)."
            )
        if calibrated:
            note = _CALIBRATED.sub(f"calibrated from history (but not {keys}).", note)
        else:
            note = _CALIBRATED.sub(f"with the library's estimates (but not {keys}).", note)
        note = _LIBRARY.sub(
            lambda m: f"with the library's estimates{m['why'] or ''} (but not {keys}).", note
        )
        out.append(note)
    out.append(HAND_NOTE + ", ".join(_change(k, v) for k, v in sorted(hand.items())) + ".")
    return out


def _change(key: str, figures: list[float | None]) -> str:
    first, now = figures[0], figures[-1]
    if first is None:
        return f"{key} ({now:g} h, added)"
    return f"{key} ({first:g} h → {now:g} h)"
