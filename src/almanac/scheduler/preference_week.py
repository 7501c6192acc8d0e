"""The working week in one preference text: "I work Tue-Sat 9-5", "Mon-Thu 9-5 and Fri 9-1",
"I'm available Mon, Wed and Fri 9-1" name the days worked (their union) and their hours.

Read only when the text says nothing else: "on Fridays 9-1" (one day), "no meetings Mon-Wed
before 10" or "Mon-Fri mornings are for deep work" leave the working days alone.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import time

from almanac.scheduler import preference_days as pd
from almanac.scheduler import preference_phrases as ph
from almanac.scheduler.preference_hours import Said, apply_said, clock_range
from almanac.scheduler.preference_parsed import ParsedPreferences, plural_days

# Anchored at the text's start and tried once, so its alternatives cannot backtrack apart.
_LEAD = re.compile(
    r"\s*(?:(?:I|we)\s+(?:only\s+)?(?:work|am\s+available)|I'?m\s+available|we're\s+available"
    r"|available"
    r"|(?:my\s+|our\s+)?(?:(?:working|work|office|business)\s+)?hours(?:\s+are)?)\b\s*:?",
    re.I,
)
_RANGE = re.compile(
    r"(?<![\d.:])" + ph.CLOCK + r"\s*(?:-|–|to|until|till)\s*" + ph.CLOCK + ph.NOT_HOURS, re.I
)
_WEEKDAYS = re.compile(r"\bweekdays\b", re.I)
# Where the week is worked, which says nothing of when: "I work Mon-Fri 9-5 from home",
# "remotely", "at the office", "in Berlin" (a place's name: capitalised).
_PLACE = re.compile(
    r"\s*[,;]?\s*(?:(?:from|at)\s+(?:the\s+|my\s+|our\s+)?(?:home|office|desk)\b"
    r"|(?:in|from)\s+(?:the\s+)?office\b|remotely\b|on-?site\b|in\s+person\b"
    r"|in\s+(?-i:(?!Mon|Tue|Wed|Thu|Fri|Sat|Sun|Week)[A-Z][a-z]+"
    r"(?:\s+(?!Mon|Tue|Wed|Thu|Fri|Sat|Sun|Week)[A-Z][a-z]+)?)\b(?!\s*')(?!\s*-))",
    re.I,
)
# What may stand between days and hours: "Mon, Wed and Fri", "Mon-Fri, 9-5", "from 9-5".
_GAP = re.compile(r"\s*(?:(?:[,;/&]|\band\b|\bon\b|\bfrom\b)\s*)?", re.I)
_END = re.compile(r"\s*(?:\bonly\b)?\s*\.?\s*", re.I)  # "I work Mon-Thu only"
# Where a working week may end and another clause begin: "Mon-Fri 9-5, no work after 3",
# "I work Tue-Sat from 10" (the days worked, then the hours of each; at one blank, the
# week's end taking the others: `\s+` there backtracked through each blank of a long run).
_CUT = re.compile(
    r"[,;]\s*|\b(?:but|and)\b\s*|\s(?=(?:from|after|before|until|till|starting)\b)", re.I
)
_MAX_CUTS = 6  # a week of clauses is short; tried at each cut, so bounded


def _one_day(word: str) -> bool:
    return len(pd.weekdays_named(word)) == 1


def _items(head: str, at: int) -> list[tuple[set[int], bool] | tuple[time, time]] | None:
    """The days (and whether more than one day is named by a range or list) and the clock
    ranges of `head` from `at`, in order; None when it says anything else."""
    items: list[tuple[set[int], bool] | tuple[time, time]] = []
    ranged: set[int] = set()  # the days of a range read just before, else none
    while not _END.fullmatch(head, at):
        # "I work Mon-Fri 9-5 from home": where, not when; only last, after hours ("I work
        # from home Mon and Fri", "I work Mon-Wed from home" say where on those days).
        if (g := _PLACE.match(head, at)) and _END.fullmatch(head, g.end()) and _hours(items):
            break
        if (g := _GAP.match(head, at)) and g.end() > at:
            at = g.end()
            continue
        after_range, ranged = ranged, set()
        if r := _RANGE.match(head, at):
            lo, hi = clock_range(r)
            if not (lo and hi and lo < hi):
                return None
            items.append((lo, hi))
        elif (r := pd.DAY_RANGE.match(head, at)) and _one_day(r[1]) and _one_day(r[2]):
            ranged = pd.days_of(r[0])
            items.append((ranged, True))
        elif r := _WEEKDAYS.match(head, at):
            items.append(({0, 1, 2, 3, 4}, True))
        elif r := pd.DAY_SCOPE.match(head, at):
            days = pd.weekdays_named(r[0])
            # A list, "Mon, Wed and Fri"; not a day the days before hold already: "Mon-Fri,
            # Fridays 9-1" is the week and that day's own hours, not Mon-Fri 9-1. Nor a day
            # right next to a range: a list would have said "Mon-Fri", so "Mon-Thu, Fri 9-1"
            # is the range and that day's own hours too.
            next_to = any((d + 1) % 7 in after_range or (d - 1) % 7 in after_range for d in days)
            if items and isinstance(items[-1][0], set) and not items[-1][0] & days and not next_to:
                before = items.pop()
                assert isinstance(before[0], set)
                items.append((before[0] | days, True))
            else:
                items.append((days, False))
        else:
            return None
        at = r.end()
    return items


def _hours(items: Sequence[tuple[set[int], bool] | tuple[time, time]]) -> bool:
    return any(isinstance(i[0], time) for i in items)


def _week(head: str) -> tuple[set[int] | None, list[Said]] | None:
    """(The days worked, None when the text names none; each clause's hours), or None when
    the text is no working week."""
    lead = _LEAD.match(head)
    items = _items(head, lead.end() if lead else 0)
    if not items:
        return None
    if len(items) == 1 and lead and not isinstance(items[0][0], set):
        lo, hi = items[0]
        assert isinstance(lo, time) and isinstance(hi, time)
        return None, [Said(None, span=(lo, hi))]  # "Office hours 9-5"
    if len(items) == 1 and lead and items[0][1] is True and len(items[0][0]) > 1:
        assert isinstance(items[0][0], set)
        return items[0][0], []  # "I work Tue-Sat": the days worked, the hours kept
    if isinstance(items[0][0], time):  # "9-5 Mon-Fri": the hours first
        items = items[::-1]
    pairs: list[tuple[set[int], tuple[time, time]]] = []
    many = False
    for i in range(0, len(items), 2):
        days, span = items[i], items[i + 1] if i + 1 < len(items) else None
        if not isinstance(days[0], set) or span is None or isinstance(span[0], set):
            return None
        assert isinstance(days[1], bool) and isinstance(span[0], time)
        assert isinstance(span[1], time)
        pairs.append((days[0], (span[0], span[1])))
        many = many or days[1]
    union = set().union(*(d for d, _ in pairs))
    if not many or len(union) < 2:
        return None  # one day said with its hours ("Fridays 9-1") restricts no week
    if len(pairs) == 1:
        return union, [Said(None, span=pairs[0][1])]
    return union, [Said(None if d == union else frozenset(d), span=s) for d, s in pairs]


def week_then(head: str) -> tuple[int, int, set[int]] | None:
    """Where the working week `head` opens with ends and the rest begins, the longest week
    that ends at a clause's end before the text's, and the days worked the rest adds ("I
    work Mon-Thu, Fri 9-1": Friday); None when it opens with none."""
    found = None
    for m in itertools.islice(_CUT.finditer(head), _MAX_CUTS):
        week = _week(head[: m.start()])
        if week is not None and week[0] is not None and m.end() < len(head):
            found = m.start(), m.end(), week[0], not week[1]
    if found is None:
        return None
    more = _rest_fits(head[found[1] :], found[2], hourless=found[3])
    return None if more is None else (found[0], found[1], more)


def week_after(head: str) -> tuple[int, int] | None:
    """Where the rest ends and the working week `head` closes with begins ("Weekends off,
    Mon-Fri 9-5"), the longest such week; None when it closes with none."""
    for m in itertools.islice(_CUT.finditer(head), _MAX_CUTS):
        week = _week(head[m.end() :])
        if week is not None and week[0] is not None and m.start() > 0:
            fits = _rest_fits(head[: m.start()], week[0]) is not None
            return (m.start(), m.end()) if fits else None
    return None


def _rest_fits(rest: str, worked: set[int], hourless: bool = False) -> set[int] | None:
    """The days the rest of a text adds to its working week (of `worked`), when it is
    clauses of that week; else None. A day the week does not name is one more of its
    clauses: "I work 9 to 5 Monday to Thursday, Fridays 9 to 1" (the general rules read
    it), not a rule within the week; but days with hours of their own after a week without
    hours are days worked too: "I work Mon-Thu, Fri 9-1". A day off is not: "Mon-Fri 9-5,
    weekends off" is the week and its days off."""
    off = [m.span() for m in pd.NO_DAY.finditer(rest)]
    ranges = list(pd.DAY_RANGE.finditer(rest))
    days = list(pd.DAY_SCOPE.finditer(rest))
    named = {d for r in ranges if not _within(r, off) for d in pd.days_of(r[0])}
    named.update(d for r in days if not _within(r, off) for d in pd.weekdays_named(r[0]))
    # Days with no hours beside days off ("I work Tue-Sat; Mondays off" worked Tue-Sat, not
    # the settings' week less Monday) or beside a day of the week with hours of its own
    # ("I work Mon-Fri, Fridays 9-1": the settings' hours on the other days).
    if named <= worked:
        return set()
    return named - worked if hourless and _days_with_hours(rest) else None


def _days_with_hours(rest: str) -> bool:
    """Whether `rest` is days each with hours of their own and nothing else: "Fri 9-1"."""
    items = _items(rest, 0)
    if not items or len(items) % 2:
        return False
    return all(isinstance(items[i][0], set) != (i % 2 == 1) for i in range(len(items)))


def _within(m: re.Match[str], spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= m.start() and m.end() <= b for a, b in spans)


def read_week(
    out: ParsedPreferences,
    text: str,
    head: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
    more: set[int] | None = None,
) -> bool:
    """Apply the working week `head` says, if it says one and nothing else (and `more`,
    days worked the text's other clauses name with their own hours)."""
    week = _week(head)
    if week is None:
        return False
    days, said = week
    if days is not None:
        days = days | (more or set())
        # The days worked replace any earlier text's days (off or worked).
        out.withdraw("days", f"the later {text!r} says the working days")
        out.prefs.working_days = sorted(days)
        out.apply("days", f"working days {plural_days(days)} ({text!r})")
    apply_said(
        out,
        said,
        text,
        hours,
        p.working_days if (p := out.prefs).working_days is not None else workdays,
    )
    return True
