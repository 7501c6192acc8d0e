"""Where one preference text's clauses begin and end: "I work 9-5, on Fridays I finish at 1"
is two clauses, "Mondays, Wednesdays and Fridays" one list and "between 9 and 5" one range."""

from __future__ import annotations

import re
from itertools import accumulate

from almanac.scheduler import preference_days as pd
from almanac.scheduler import preference_phrases as ph

# A preference is a sentence or a few: past this many clauses the rest is read as one, so a
# text of a hundred clauses ("On Fridays I stop at 3, " again and again) neither lists a line,
# and a line replacing it, for each one nor multiplies the work of the rules.
MAX_CLAUSES = 16
# Where a clause ends: "," ";" a bracket, a full stop (not "9.30" nor a dot of "p.m.", unless a
# sentence starts after it), "and", "but"...
_BREAK = re.compile(
    r"[,;!?()]|(?<![ap]\.m)(?<!\b[ap])(?<!\d[ap])\.(?!\d)|(?<=[ap]\.m)\.(?=\s+(?-i:[A-Z]))"
    r"|\b(?:and|but|while|whereas)\b",
    re.I,
)
# Not between two days of one list ("Mondays and Fridays"), nor in "between 9 and 5".
_DAY_BEFORE = re.compile(pd.DAY_WORD + r"\s*$", re.I)
_DAY_AFTER = re.compile(r"\s*(?:on\s+)?" + pd.DAY_WORD, re.I)
_BETWEEN_OPEN = re.compile(r"\bbetween\s+" + ph.CLOCK + r"\s*$", re.I)
# Nor in "no work before 10 and after 4 on Mondays": both ends hold on the days named.
_BEFORE_OPEN = re.compile(r"\bbefore\s+" + ph.CLOCK + r"\s*,?\s*$", re.I)
_AFTER_NEXT = re.compile(r"\s*(?:not\s+|nothing\s+|never\s+)?(?:after|past)\b", re.I)


def clauses(head: str) -> list[tuple[int, int]]:
    """The spans of `head`'s clauses, the last `MAX_CLAUSES`-th holding the rest of the text."""
    cuts = [0]
    # How many digits `head` has before each position: whether a stretch has one, in one
    # step (searching each stretch again from its clause's start was quadratic on a list
    # of days hundreds long).
    digits = list(accumulate((c.isdecimal() for c in head), initial=0))
    for m in _BREAK.finditer(head):
        if len(cuts) >= MAX_CLAUSES:
            break
        before = head[max(cuts[-1], m.start() - 40) : m.start()]
        joins = m.group(0).lower() in (",", "and", "or")
        if (
            joins
            and _DAY_BEFORE.search(before)
            and _DAY_AFTER.match(head, m.end())
            and not _hours_each_side(head, digits, cuts[-1], m)
        ):
            continue  # "Mondays, Wednesdays and Fridays"
        if m.group(0).lower() == "and" and (
            _BETWEEN_OPEN.search(before)
            or (_BEFORE_OPEN.search(before) and _AFTER_NEXT.match(head, m.end()))
        ):
            continue
        cuts.append(m.end())
    cuts.append(len(head))
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b]


def _hours_each_side(head: str, digits: list[int], a: int, m: re.Match[str]) -> bool:
    """Whether the days on each side of `m` have their own hours: "9 to 5 Monday to
    Thursday, Fridays 9 to 1" is two clauses, "10-7 on Mondays, Wednesdays" one list
    (`digits`: how many digits `head` has before each position)."""
    after = _BREAK.search(head, m.end())
    b = after.start() if after else len(head)
    return digits[m.start()] > digits[a] and digits[b] > digits[m.end()]


# What points from one clause to another: "Every other Friday off, otherwise 9-5" says
# the other weeks' hours, which cannot be read apart from their qualifier.
_REFERS = re.compile(
    r"\b(?:otherwise|else|instead|rest\s+of\s+the|other\s+(?:weeks?|times|months?)|those"
    r"|th(?:at|is)\s+(?:day|week|month|season|time)|then|same)\b",
    re.I,
)
# A qualifier bound to the day it names: "every other Friday", "some Mondays".
_DAY_BOUND = re.compile(r"\s*" + pd.DAY_WORD, re.I)


def some_weeks_clause(head: str) -> tuple[int, int] | None:
    """The span of the one clause a some-weeks-only qualifier ("every other Friday", "in
    summer") clearly lies within, None when it may govern other clauses too.

    A qualifier of a day ("every other Friday off") is its clause's wherever it stands. One
    of the whole sentence ("in summer", "sometimes") may govern what follows it ("In
    summer, Fridays off") or what came before ("Fridays off, but only in summer"): only the
    last clause's own, and only when that clause says something by itself (the caller
    checks that). Anything pointing across clauses ("otherwise") keeps the text whole.
    """
    spans = clauses(head)
    found = list(pd.SOME_WEEKS.finditer(head))
    # "except" says which days the rest holds on: the rules do not split that.
    excepts = (e for e in pd.EXCEPT.finditer(head) if not any(_inside(e, m) for m in found))
    # A qualifier's own words ("this week also Saturday") point at no other clause.
    refers = (r for r in _REFERS.finditer(head) if not any(_inside(r, m) for m in found))
    if len(spans) < 2 or not found or next(refers, None) or next(excepts, None):
        return None
    within = {i for m in found for i, (a, b) in enumerate(spans) if a <= m.start() < b}
    if len(within) != 1:
        return None
    (i,) = within
    a, b = spans[i]
    if any(m.end() > b for m in found):
        return None
    day_bound = all(pd.DAY_SCOPE.search(m[0]) or _DAY_BOUND.match(head, m.end()) for m in found)
    if not day_bound and i != len(spans) - 1:
        return None
    return a, b


def _inside(m: re.Match[str], outer: re.Match[str]) -> bool:
    return outer.start() <= m.start() and m.end() <= outer.end()
