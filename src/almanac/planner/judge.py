"""Judging an LLM's plan by its content, not only its shape (pure).

A small model can answer with JSON that fits the schema and passes `check_sop` and still be
nonsense: ten library tasks collapsed into one, a task that only repeats the intent, the
same task twice, hours nowhere near the library's. Such a plan is rejected and the library
plan is used instead.
"""

from __future__ import annotations

import math
import re

from almanac.ontology.sop import SOP

# Total hours may differ from the library skeleton's by at most this factor either way.
HOURS_FACTOR = 3.0
# An adaptation keeps at least this share of a library workflow's tasks (and at least 2).
MIN_TASK_SHARE = 0.5
# A task "only repeats the intent" when its words are the intent's and cover this share.
ECHO_SHARE = 0.8

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and the of for to in on at by with our my your their its is be do up new".split()
)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP]


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def echoes(title: str, intent: str) -> bool:
    """Whether `title` says nothing but (most of) the intent again."""
    words, wanted = set(_words(title)), set(_words(intent))
    if not words or not wanted:
        return _norm(title) == _norm(intent)
    return words <= wanted and len(words) >= ECHO_SHARE * len(wanted)


def judge_plan(sop: SOP, *, intent: str, skeleton: SOP | None) -> list[str]:
    """Why `sop` is not a usable plan for `intent` (empty: it is)."""
    reasons: list[str] = []
    tasks = list(sop.tasks())
    seen: dict[str, int] = {}
    for task in tasks:
        key = _norm(task.title)
        seen[key] = seen.get(key, 0) + 1
    duplicates = [title for title, n in seen.items() if n > 1]
    if duplicates:
        reasons.append(f"the same task appears more than once ({', '.join(duplicates[:3])})")
    echo = [t.id for t in tasks if echoes(t.title, intent)]
    if echo:
        reasons.append(f"task(s) {', '.join(echo[:3])} only repeat the intent")
    if skeleton is not None:
        library = list(skeleton.tasks())
        needed = max(2, math.ceil(MIN_TASK_SHARE * len(library)))
        if len(library) >= 3 and len(tasks) < needed:
            reasons.append(
                f"{len(tasks)} task(s) for a library workflow of {len(library)}: "
                "the adaptation dropped most of the work"
            )
        expected, total = skeleton.total_hours(), sop.total_hours()
        if expected > 0 and not expected / HOURS_FACTOR <= total <= expected * HOURS_FACTOR:
            reasons.append(
                f"{total:g} h in total against the library's {expected:g} h "
                f"(more than {HOURS_FACTOR:g}x apart)"
            )
    return reasons
