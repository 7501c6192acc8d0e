"""Judging an LLM's reflection narrative against the computed report (pure).

The numbers are Almanac's; the narrative only words them. So a narrative may state only
figures present in the report (rounded as a person would), and a narrative that repeats a
sentence, or states a figure that appears nowhere ("172.1222.1222"), is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A figure as written: digits with decimal points or commas ("17.5", "1,200", "3.2.1").
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


def report_numbers(report: Any) -> set[float]:
    """Every number in the report: values, and figures inside its strings (dates, notes)."""
    out: set[float] = set()

    def walk(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            out.add(float(value))
        elif isinstance(value, str):
            for figure in _FIGURE.findall(value):
                number = _as_number(figure)
                if number is not None:
                    out.add(number)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(report)
    return out


def _as_number(figure: str) -> float | None:
    text = figure.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", figure) else figure
    try:
        return float(text)
    except ValueError:
        return None  # "172.1222.1222": not a number at all


def _matches(stated: float, decimals: int, known: Iterable[float]) -> bool:
    # Rounded as a person would: within half a unit of the last digit written.
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    for value in known:
        for candidate in (value, value * 100, value / 60):  # shares as %, minutes as hours
            if abs(candidate - stated) <= tolerance:
                return True
    return False


def judge_narrative(
    text: str, report: Any, *, small_ok: int = 10, source: str = "the report"
) -> list[str]:
    """Why `text` cannot stand beside `report` (empty: it can).

    Whole numbers up to `small_ok` pass (ordinals, "two of the tasks" written as digits).
    """
    reasons: list[str] = []
    known = report_numbers(report)
    invented: list[str] = []
    for figure in _FIGURE.findall(text):
        number = _as_number(figure)
        if number is None:
            invented.append(figure)
            continue
        decimals = len(figure.split(".")[1]) if "." in figure else 0
        if decimals == 0 and number <= small_ok:
            continue
        if not _matches(number, decimals, known):
            invented.append(figure)
    if invented:
        reasons.append(f"states figures not in {source}: {', '.join(invented[:5])}")
    seen: set[str] = set()
    repeated: list[str] = []
    for sentence in _SENTENCE.split(text):
        key = " ".join(_WORD.findall(sentence.casefold()))
        if len(key) < 12:
            continue
        if key in seen and sentence.strip() not in repeated:
            repeated.append(sentence.strip()[:60])
        seen.add(key)
    if repeated:
        reasons.append(f"repeats itself ({repeated[0]!r})")
    return reasons
