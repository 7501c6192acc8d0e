"""A plan's explanations after an estimate was set by hand (pure).

A plan says where its figures came from (`estimates`, `calibration`, `notes`: "calibrated
from history", "2 estimate(s) adjusted from past execution runs"). When a figure is then
set by hand, on the plan's SOP or on its task, those words no longer hold for it: its
estimate entry says "set by hand", its calibration goes, and the notes say which figures
were set by hand since. A figure set back to the one its explanation gave before any
hand is explained by that again (`hand_origin` keeps it).
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
# An estimate entry's note once set by hand: what follows says what it was before any.
_HAND_ENTRY = re.compile(r"^set by hand (?:in version \d+|on task \d+)(?=[ :])(.*)$", re.S)


def hand_note(where: str, was: Mapping[str, Any] | None) -> str:
    """The note of an estimate entry set by hand `where` ("on task 5", "in version 3"),
    naming what the figure was before any hand set it (an entry set by hand again keeps
    that: its note grew by one "(was ...)" with every edit)."""
    if was is None:
        return f"set by hand {where}: not from the library, not calibrated"
    if was.get("basis") == "hand":
        earlier = _HAND_ENTRY.match(str(was.get("note", "")))
        if earlier is not None:
            return f"set by hand {where}{earlier.group(1)}"
    return f"set by hand {where} (was {float(was['hours']):g} h: {was['note']})"


def hand_set(
    meta: Mapping[str, Any],
    changes: Mapping[str, tuple[float | None, float]],
    before: Mapping[str, Any],
) -> dict[str, Any]:
    """`hand_set`, `hand_origin`, `estimates`, `calibration` and `notes` of a plan's
    metadata `meta` after each task key in `changes` was set by hand from the first figure
    to the second (None: a task new to the plan); `before` is the metadata before.

    A key set back to the figure its entry gave before the first hand (the calibrated one)
    gets that entry and its calibration back and leaves the notes' hand list."""
    kept = meta.get("hand_set")
    hand: dict[str, list[float | None]] = dict(kept) if isinstance(kept, dict) else {}
    kept = meta.get("hand_origin")
    origins: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
    estimates = [e for e in meta.get("estimates") or [] if isinstance(e, dict)]
    calibration = [c for c in meta.get("calibration") or [] if isinstance(c, dict)]
    for key, (old, new) in changes.items():
        if not (isinstance(hand.get(key), list) and hand[key]):
            hand[key] = [old, new]
            origin = _origin(before, key)
            if origin is not None:
                origins[key] = origin
        hand[key] = [hand[key][0], new]
        origin = origins.get(key)
        if isinstance(origin, dict) and origin["estimate"].get("hours") == new:
            estimates = [origin["estimate"] if _key(e) == key else e for e in estimates]
            calibration += origin["calibration"]
            del hand[key], origins[key]
    # A task the plan no longer has is no figure of it set by hand.
    present = {_key(e) for e in estimates}
    hand = {k: v for k, v in hand.items() if k in present}
    origins = {k: v for k, v in origins.items() if k in present}
    # Whether a figure from history is left: a plan whose only calibrated figures were set
    # by hand is no longer "calibrated from history" at all.
    calibrated = any(e.get("basis") in HISTORY for e in estimates)
    return {
        "hand_set": hand,
        "hand_origin": origins,
        "estimates": estimates,
        "calibration": calibration,
        "notes": _notes(meta.get("notes"), hand, calibration, calibrated),
    }


def _key(entry: Mapping[str, Any]) -> str:
    return str(entry.get("task_id"))


def _origin(before: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The entry (and calibration) explaining `key` before any hand: None when there was
    none, or it was set by hand already (in a plan stored before `hand_origin`)."""
    entry = next(
        (e for e in before.get("estimates") or [] if isinstance(e, dict) and _key(e) == key),
        None,
    )
    if entry is None or entry.get("basis") == "hand":
        return None
    calibration = [
        c for c in before.get("calibration") or [] if isinstance(c, dict) and _key(c) == key
    ]
    return {"estimate": entry, "calibration": calibration}


def adjusted_note(count: int, total: float) -> str:
    """The plan's note on `count` estimates changed from history by `total` hours. The
    total is summed in floats: rises and falls that cancel left "-2.22045e-16 h"."""
    shown = round(total, 2) + 0.0  # + 0.0: no "-0"
    return f"{count} estimate(s) adjusted from past execution runs ({shown:+g} h in total)."


def _adjusted(calibration: list[dict[str, Any]]) -> str:
    total = sum(float(c["to_hours"]) - float(c["from_hours"]) for c in calibration)
    return adjusted_note(len(calibration), total)


def _notes(
    raw: Any,
    hand: Mapping[str, list[float | None]],
    calibration: list[dict[str, Any]],
    calibrated: bool,
) -> list[str]:
    notes = [str(n) for n in raw if isinstance(n, str)] if isinstance(raw, list) else []
    but = f" (but not {', '.join(sorted(hand))})" if hand else ""
    out = []
    adjusted = False
    for note in notes:
        if note.startswith(HAND_NOTE):
            continue
        if _ADJUSTED.match(note):
            if not calibration:
                continue
            note, adjusted = _adjusted(calibration), True
        # Either wording, as the figures from history left make it (a figure set back to
        # its calibrated one brings "calibrated from history" back).
        if calibrated:
            note = _LIBRARY.sub(f"calibrated from history{but}.", note)
            note = _CALIBRATED.sub(f"calibrated from history{but}.", note)
        else:
            note = _CALIBRATED.sub(f"with the library's estimates{but}.", note)
            note = _LIBRARY.sub(
                lambda m: f"with the library's estimates{m['why'] or ''}{but}.", note
            )
        out.append(note)
    if calibration and not adjusted:  # a calibration set back after its note went
        out.append(_adjusted(calibration))
    if hand:
        out.append(HAND_NOTE + ", ".join(_change(k, v) for k, v in sorted(hand.items())) + ".")
    return out


def _change(key: str, figures: list[float | None]) -> str:
    first, now = figures[0], figures[-1]
    if first is None:
        return f"{key} ({now:g} h, added)"
    return f"{key} ({first:g} h → {now:g} h)"
