"""The working day in one preference text, clause by clause: "I work 9-5, on Fridays I finish
at 1" is 09:00-17:00 on every working day and nothing after 13:00 on Fridays. A clause's
hours hold on the days it names; hours said for no day hold on every day, and a day's own
hours override them for that day only (`DayHoursIn`, one window per weekday)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import time
from itertools import chain

from almanac.scheduler import preference_days as pd
from almanac.scheduler import preference_phrases as ph
from almanac.scheduler.preference_clauses import clauses
from almanac.scheduler.preference_parsed import ParsedPreferences, day_rule, plural_days
from almanac.scheduler.schemas import SchedulingPreferences

# "and 5 otherwise": a clause for the days no other clause names.
_OTHERWISE = re.compile(
    r"\b(?:otherwise|other\s+days|rest\s+of\s+the\s+(?:week|time)|else|usually|normally"
    r"|every\s+day)\b",
    re.I,
)
# A clause of days and clocks only, "Fridays 8-2", "5 otherwise": hours the text's other
# clauses say what they are.
_BARE = re.compile(
    r"(?<![\d.:])" + ph.CLOCK + r"(?:\s*(?:-|–|to|until|till)\s*" + ph.CLOCK + ")?" + ph.NOT_HOURS,
    re.I,
)
# What a clause naming days only may also say: "Mondays only", "and on Fridays too".
_DAYS_FILLER = frozenset("on only just every each all the and or also too please".split())
# The word before a clause's one clock that says which end of the day it is.
_SIDE = re.compile(r"\b(before|from|after|past|until|till|by)\s*$", re.I)
_SUBJECT = re.compile(r"\b(?:I|I'?m|my|we|our)\b", re.I)
_FILLER = frozenset(
    "on from at by to till until before after past i i'm im my work working hours are is the "
    "and otherwise rest "
    "of week other days day else usually normally every all".split()
)


@dataclass
class Said:
    """The hours one clause says, for its days (None: every day)."""

    days: frozenset[int] | None
    span: tuple[time, time] | None = None  # working hours "9-5"
    start: time | None = None  # an earliest hour only
    end: time | None = None


def clock_range(m: re.Match[str]) -> tuple[time | None, time | None]:
    """The clocks of a "9-5" range (groups 1-3 and 4-6), with its am/pm made out."""
    lo, hi = ph.clock(*m.group(1, 2, 3)), ph.clock(*m.group(4, 5, 6))
    if lo and hi and hi <= lo and not m.group(6) and hi.hour < 12:
        hi = time(hi.hour + 12, hi.minute)  # "work 9-5" means 17:00
    pm_end = (m.group(6) or "").lower() == "p"
    if lo and hi and pm_end and not m.group(3) and lo.hour < 12 < lo.hour + 12 < hi.hour:
        lo = time(lo.hour + 12, lo.minute)  # "work 1-5pm" means 13:00, "9-5pm" 09:00
    return lo, hi


def earliest(p: SchedulingPreferences, start: time, days: frozenset[int] | None) -> time:
    """The earliest hour in force so far (on `days` when said for some days only)."""
    at = p.workday_start or start
    if p.not_before and p.not_before > at:
        at = p.not_before
    for rule in p.day_hours:
        if days and rule.not_before and days & set(rule.weekdays):
            at = max(at, rule.not_before)
    return at


def read_hours(
    out: ParsedPreferences,
    text: str,
    head: str,
    scope: tuple[frozenset[int] | None, bool],
    taken: Sequence[tuple[int, int]],
    hours: tuple[time, time],
    workdays: Sequence[int],
) -> None:
    """Apply the working day `head` says, each clause's hours on its own days."""
    days, unclear = scope
    excepted = unclear and pd.EXCEPT.search(head) is not None
    split = not excepted and days is not None
    said = _said(out.prefs, head, scope, taken, hours, workdays, split)
    if split and not unclear and len(said) < 2 and not (said and said[0].days is not None):
        if said and said[0].days is None and not _days_only(head, taken, workdays):
            # The clause naming the day says what the rules do not read: "I work 7-3, Fridays
            # until noon", "I work 8-6, not on Fridays". Its day is not the other clause's.
            for s in said:
                _refuse(out, s, text)
            return
        # One day said, one clause of hours: "No meetings before 10, Mondays only" -- the
        # day is the text's, wherever it stands.
        said = _said(out.prefs, head, scope, taken, hours, workdays, split=False)
    if excepted:
        for s in said:
            _refuse(out, s, text)
    else:
        apply_said(out, said, text, hours, workdays)


def _days_only(head: str, taken: Sequence[tuple[int, int]], workdays: Sequence[int]) -> bool:
    """Whether every clause that names days says nothing else: "Mondays only", "on Fridays"."""
    for a, b in clauses(head):
        if _days(head, a, b, taken, workdays) is None:
            continue
        rest = pd.DAY_SCOPE.sub(" ", pd.DAY_RANGE.sub(" ", head[a:b]))
        if any(w not in _DAYS_FILLER for w in re.findall(r"[\w']+", rest.lower())):
            return False
    return True


def days_apart(head: str, taken: Sequence[tuple[int, int]], workdays: Sequence[int]) -> bool:
    """Whether the clauses name different days: "9 to 5 Monday to Thursday, Fridays 9 to 1"
    names every working day, but not for the same hours."""
    named = {d for a, b in clauses(head) if (d := _days(head, a, b, taken, workdays)) is not None}
    return len(named) > 1


def days_elsewhere(
    head: str, at: int, taken: Sequence[tuple[int, int]], workdays: Sequence[int]
) -> bool:
    """Whether the days `head` names are all in other clauses than the one at `at`, each
    with hours of its own: "max 6h/day, I stop at 3 on Fridays" caps every day, "On
    Fridays, max 4h/day" (a days-only clause) and "max 4h/day on Fridays" do not."""
    for a, b in clauses(head):
        if _days(head, a, b, taken, workdays) is None:
            continue
        if a <= at < b or not re.search(r"\d", head[a:b]):
            return False
    return True


def _said(
    p: SchedulingPreferences,
    head: str,
    scope: tuple[frozenset[int] | None, bool],
    taken: Sequence[tuple[int, int]],
    hours: tuple[time, time],
    workdays: Sequence[int],
    split: bool,
) -> list[Said]:
    """The hours each clause says (`split`), or the whole text's for its days."""
    days = scope[0]
    said: list[Said] = []
    last: frozenset[int] | None = None  # the days the clauses before named
    inherit = ""  # what a bare clock is, after "I stop at 4 on Fridays": "and 5 otherwise"
    used = False  # whether those days have their hours already
    for a, b in clauses(head) if split else [(0, len(head))]:
        own = days if not split else _days(head, a, b, taken, workdays)
        if own is not None:
            last, used = own, False
        elif split and not _OTHERWISE.search(head, a, b):
            # "Mondays I start at 10 and finish at 6", "On Fridays, I stop at 3": the days
            # before; not "On Fridays I finish at 1, I work 9-5", a sentence of its own.
            own = None if used and _SUBJECT.search(head, a, b) else last
        one = _clause(p, head, (a, b), own, inherit, hours, said)
        if one is not None:
            used = used or own is not None
            said.append(one)
            inherit = "span" if one.span else "" if one.start and one.end else _side(one)
    return said


def _days(
    head: str, a: int, b: int, taken: Sequence[tuple[int, int]], workdays: Sequence[int]
) -> frozenset[int] | None:
    """The days one clause names (None: none, or every working day)."""
    named = pd.scope(head[a:b], [(x - a, y - a) for x, y in taken])[0]
    if named and workdays and set(workdays) <= named:
        return None  # "9-5 Monday to Friday": every working day
    return named


def _clause(
    p: SchedulingPreferences,
    head: str,
    at: tuple[int, int],
    days: frozenset[int] | None,
    inherit: str,
    hours: tuple[time, time],
    said: Sequence[Said],
) -> Said | None:
    """The hours one clause says, or None."""
    a, b = at
    out = Said(days)
    ranges = chain(ph.WORK_HOURS.finditer(head, a, b), ph.WORK_BETWEEN.finditer(head, a, b))
    if m := next((r for r in ranges if ph.said_of_me(head, r)), None):
        lo, hi = clock_range(m)
        out.span = (lo, hi) if lo and hi and lo < hi else None
    # The first of each kind, then the earlier: each found lazily, as the texts are long.
    starts = (
        _first(ph.NOT_BEFORE, head, at, ph.said_of_me),
        _first(ph.CLOCK_START, head, at, ph.clock_first_mine),
    )
    if m := _earliest(starts):
        out.start = ph.start_of_day(m, *(out.span or p.hours(*hours)))
    ends = (
        _first(ph.NOT_AFTER, head, at, lambda h, e: _an_end(h, e) and ph.said_of_me(h, e)),
        _first(ph.CLOCK_END, head, at, lambda h, e: _an_end(h, e) and ph.clock_first_mine(h, e)),
    )
    said_end = _earliest(ends)
    end = (ph.DONE_BY.match(head) if a == 0 else None) or said_end
    if m is None and end is None and out.span is None:
        bare = _bare(head, a, b)
        if bare and bare.group(4) and (days is not None or inherit == "span"):
            lo, hi = clock_range(bare)
            out.span = (lo, hi) if lo and hi and lo < hi else None
        elif bare and not bare.group(4) and (side := _SIDE.search(head, a, bare.start())):
            # "and until 8 on Thursdays", "past 3pm on Fridays", "Mondays from 8".
            if side.group(1).lower() in ("before", "from"):
                out.start = ph.start_of_day(bare, *p.hours(*hours))
            else:
                end = bare
        elif bare and not bare.group(4) and inherit == "start":
            out.start = ph.start_of_day(bare, *p.hours(*hours))
        elif bare and not bare.group(4) and inherit == "end":
            end = bare
    if end is not None:
        first = out.start or (out.span[0] if out.span else None)
        general = next((_lo(s) for s in said if s.days is None), None)
        out.end = ph.end_of_day(end, first or general or earliest(p, hours[0], days))
    return out if out.span or out.start or out.end else None


def _first(
    pattern: re.Pattern[str],
    head: str,
    at: tuple[int, int],
    keep: Callable[[str, re.Match[str]], bool],
) -> re.Match[str] | None:
    return next((f for f in pattern.finditer(head, *at) if keep(head, f)), None)


def _earliest(found: Sequence[re.Match[str] | None]) -> re.Match[str] | None:
    return min((f for f in found if f), key=lambda f: f.start(), default=None)


def _an_end(head: str, e: re.Match[str]) -> bool:
    """Whether a latest hour is the day's: not others' meetings' end nor a pause."""
    return not ph.others_end(head, e.start()) and not ph.PAUSE.match(head, e.end())


def _side(s: Said) -> str:
    return "start" if s.start else "end"


def _lo(s: Said) -> time | None:
    return s.start or (s.span[0] if s.span else None)


def _hi(s: Said) -> time | None:
    return s.end or (s.span[1] if s.span else None)


def _bare(head: str, a: int, b: int) -> re.Match[str] | None:
    """The one clock or range of a clause of days and clocks only."""
    found = list(_BARE.finditer(head, a, b))
    if len(found) != 1:
        return None
    m = found[0]
    rest = head[a : m.start()] + " " + head[m.end() : b]
    rest = pd.DAY_SCOPE.sub(" ", pd.DAY_RANGE.sub(" ", rest))
    if re.search(r"\d", rest) or any(w not in _FILLER for w in re.findall(r"[\w']+", rest.lower())):
        return None
    return m


def _refuse(out: ParsedPreferences, s: Said, text: str) -> None:
    unclear = "said for some days only, the rules cannot tell which"
    if s.span:
        lo, hi = s.span
        out.refuse(
            f"working hours {lo:%H:%M}-{hi:%H:%M} {unclear} ({text!r}) are not read by the "
            "rules; not applied to every day"
        )
    for words, at in (("before", s.start), ("after", s.end)):
        if at is not None:
            out.refuse(f"nothing {words} {at:%H:%M} is {unclear} ({text!r})")


def apply_said(
    out: ParsedPreferences,
    said: Sequence[Said],
    text: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
) -> None:
    """The hours for every day first, then each day's own, which override them."""
    p = out.prefs
    for s in said:  # a newer text's hours for a day replace an older text's for it
        for side, at in (("not_before", _lo(s)), ("not_after", _hi(s))):
            if at is not None:
                out.supersede(side, s.days, text)
    general_span = general_start = general_end = None
    lines: list[tuple[str, str]] = []
    for s in (s for s in said if s.days is None):
        if s.span:
            general_span = s.span
            p.workday_start, p.workday_end = s.span
            line = f"working hours {s.span[0]:%H:%M}-{s.span[1]:%H:%M}"
            lines.append(("hours", line))
            # A later "I work 8-4" says when the day starts and ends: an earlier text's
            # "nothing before 10" no longer holds (both would keep the later 10).
            for side, also in (("not_before", s.start), ("not_after", s.end)):
                if also is None and out.replaced(side, f"{line} ({text!r})"):
                    setattr(p, side, None)
        if s.start:
            general_start = p.not_before = s.start
            lines.append(("not_before", f"nothing before {s.start:%H:%M}"))
        if s.end:
            general_end = p.not_after = s.end
            lines.append(("not_after", f"nothing after {s.end:%H:%M}"))
    # Hours for a day not worked ("Sat 10-2") widen no other day's (`settle` drops them).
    worked = set(p.working_days if p.working_days is not None else workdays)
    own = [s for s in said if s.days is not None]
    wider = [s for s in own if s.days and s.days & worked]
    base = p.hours(*hours)
    said_lo = general_start or (general_span[0] if general_span else None)
    said_hi = general_end or (general_span[1] if general_span else None)
    # A day that starts earlier (ends later) than the text's other days: the day's hours
    # widen to it, and the other working days keep theirs by a rule of their own, which
    # is listed instead of the earliest (latest) hour for every day.
    early = [
        lo for s in wider if (lo := _lo(s)) and lo < base[0] and (s.span or said_lo is not None)
    ]
    late = [hi for s in wider if (hi := _hi(s)) and hi > base[1] and (s.span or said_hi)]
    wide = {"not_before"} if early else set()
    wide |= {"not_after"} if late else set()
    wide |= {"hours"} if early and late else set()
    for kind, line in lines:
        if kind not in wide:
            out.apply(kind, f"{line} ({text!r})")
    if early:
        _keep(out, "not_before", base[0], workdays, [s for s in own if _lo(s)], text)
        p.workday_start = min(early)
        p.not_before = None if p.not_before and p.not_before > min(early) else p.not_before
    if late:
        _keep(out, "not_after", base[1], workdays, [s for s in own if _hi(s)], text)
        p.workday_end = max(late)
        p.not_after = None if p.not_after and p.not_after < max(late) else p.not_after
    for s in own:
        assert s.days is not None
        on = f"on {plural_days(s.days)}"
        lo, hi = _lo(s), _hi(s)
        if lo and not (s.span and not s.start and lo == said_lo):
            day_rule(out, "not_before", lo, s.days, f"{on} nothing before {lo:%H:%M} ({text!r})")
        if hi and not (s.span and not s.end and hi == said_hi):
            day_rule(out, "not_after", hi, s.days, f"{on} nothing after {hi:%H:%M} ({text!r})")


def _keep(
    out: ParsedPreferences,
    side: str,
    at: time,
    workdays: Sequence[int],
    own: Sequence[Said],
    text: str,
) -> None:
    """The working days no clause names keep `at` as their earliest (latest) hour."""
    named = set().union(*(s.days or () for s in own))
    others = sorted(set(workdays) - named)
    if others:
        words = "before" if side == "not_before" else "after"
        line = f"on {plural_days(others)} nothing {words} {at:%H:%M} ({text!r})"
        day_rule(out, side, at, others, line)
