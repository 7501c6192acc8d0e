"""Scheduling preferences from memory facts by rules: the common phrasings ("work 9-17",
"no meetings before 10", "deep work in the morning", "max 6 hours a day", "15 minutes
between blocks"). The LLM path, with these rules as its fallback, is `preference_llm`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time
from itertools import chain

from almanac.scheduler import preference_phrases as ph
from almanac.scheduler.schemas import (
    MIN_DAILY_CAP_HOURS,
    DayHoursIn,
    PreferredWindowIn,
    SchedulingPreferences,
)

# The rules read a fact's first characters only: a preference is a sentence, and this
# bounds the work of every schedule whatever a fact holds (the LLM reads it all).
PREFERENCE_MAX_CHARS = 2000
SETTINGS_HOURS = (time(9), time(17))  # the settings' default working day
_PLURAL = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


@dataclass
class ParsedPreferences:
    """What the rules understood, and a human line per preference applied."""

    prefs: SchedulingPreferences = field(default_factory=SchedulingPreferences)
    applied: list[str] = field(default_factory=list)  # the lines in force, oldest text first
    not_understood: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # understood, refused, and why
    # Per text read, in order: (its lines in force, its lines ignored and why).
    per_text: list[tuple[list[str], list[str]]] = field(default_factory=list)
    _in_force: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    _tagged: list[tuple[str, str, int]] = field(default_factory=list, repr=False)

    def apply(self, kind: str | None, line: str, tag: str = "") -> None:
        """`line` from the text read last; a later one of the same `kind` (a daily maximum,
        the earliest hour...) replaces the earlier, which is then no longer listed as applied.
        `tag` (else `kind`) names the line for `withdraw`."""
        i = len(self.per_text) - 1
        if kind is not None:
            if (old := self._in_force.get(kind)) is not None:
                self._drop(*old)
                self.refuse(f"{old[0]} is replaced by the later {line}", old[1])
            self._in_force[kind] = (line, i)
        self.applied.append(line)
        self.per_text[i][0].append(line)
        self._tagged.append((kind or tag, line, i))

    def refuse(self, reason: str, i: int = -1) -> None:
        self.ignored.append(reason)
        self.per_text[i][1].append(reason)

    def withdraw(self, tag: str, why: str) -> None:
        """The lines of `tag` are not in force after all (`settle`), and the response says why."""
        for t, line, i in self._tagged:
            if t == tag and line in self.per_text[i][0]:
                self._drop(line, i)
                self.refuse(f"{line} is not applied: {why}", i)
        self._in_force.pop(tag, None)

    def _drop(self, line: str, i: int) -> None:
        self.applied.remove(line)
        self.per_text[i][0].remove(line)


def plural_days(days: Iterable[int]) -> str:
    """The days as "Mondays and Fridays"."""
    return " and ".join(_PLURAL[d] for d in sorted(set(days)))


def rule_tag(rule: DayHoursIn) -> str:
    """What names a rule for some days (`settle`, `withdraw`): its side and its days."""
    side = "not_before" if rule.not_before else "not_after"
    return f"{side}@{','.join(map(str, sorted(rule.weekdays)))}"


def _range(m: re.Match[str]) -> tuple[time | None, time | None]:
    """The clocks of a "9-5" range (groups 1-3 and 4-6), with its am/pm made out."""
    lo, hi = ph.clock(*m.group(1, 2, 3)), ph.clock(*m.group(4, 5, 6))
    if lo and hi and hi <= lo and not m.group(6) and hi.hour < 12:
        hi = time(hi.hour + 12, hi.minute)  # "work 9-5" means 17:00
    pm_end = (m.group(6) or "").lower() == "p"
    if lo and hi and pm_end and not m.group(3) and lo.hour < 12 < lo.hour + 12 < hi.hour:
        lo = time(lo.hour + 12, lo.minute)  # "work 1-5pm" means 13:00, "9-5pm" 09:00
    return lo, hi


def _earliest(p: SchedulingPreferences, start: time, days: frozenset[int] | None) -> time:
    """The earliest hour in force so far (on `days` when said for some days only)."""
    at = p.workday_start or start
    if p.not_before and p.not_before > at:
        at = p.not_before
    for rule in p.day_hours:
        if days and rule.not_before and days & set(rule.weekdays):
            at = max(at, rule.not_before)
    return at


def _hour(
    out: ParsedPreferences,
    side: str,
    at: time,
    scope: tuple[frozenset[int] | None, bool],
    text: str,
) -> None:
    """An earliest or latest hour (`side`): for every day, or for the days said."""
    words = f"nothing {'before' if side == 'not_before' else 'after'} {at:%H:%M}"
    days, unclear = scope
    if days is None:
        setattr(out.prefs, side, at)
        out.apply(side, f"{words} ({text!r})")
    elif unclear:
        out.refuse(f"{words} is said for some days only, the rules cannot tell which ({text!r})")
    else:
        _day_rule(out, side, at, days, f"on {plural_days(days)} {words} ({text!r})")


def _day_rule(out: ParsedPreferences, side: str, at: time, days: Iterable[int], line: str) -> None:
    before, after = (at, None) if side == "not_before" else (None, at)
    rule = DayHoursIn(weekdays=sorted(set(days)), not_before=before, not_after=after)
    p = out.prefs
    # A later rule for the same days and side replaces the earlier.
    p.day_hours = [r for r in p.day_hours if rule_tag(r) != rule_tag(rule)]
    p.day_hours.append(rule)
    out.apply(rule_tag(rule), line)


def _read(
    out: ParsedPreferences, text: str, hours: tuple[time, time], workdays: Sequence[int]
) -> None:
    """Apply what the rules understand in one text (`out.per_text`'s last entry)."""
    p = out.prefs
    head = text[:PREFERENCE_MAX_CHARS]
    off, half = ph.NO_DAY.search(head), ph.PART_OFF.search(head)
    scope = ph.scope(head, [m.span() for m in (off, half) if m])
    if scope[0] and not scope[1] and workdays and set(workdays) <= scope[0]:
        scope = (None, False)  # "9-5 Monday to Friday": every working day
    some_days = f"said for {plural_days(scope[0])} only" if scope[0] else ""
    if scope[1]:
        some_days = "said for some days only, the rules cannot tell which"
    ranges = chain(ph.WORK_HOURS.finditer(head), ph.WORK_BETWEEN.finditer(head))
    if m := next((r for r in ranges if ph.said_of_me(head, r)), None):
        lo, hi = _range(m)
        if lo and hi and lo < hi and some_days:
            # The settings' hours are the same every day; these would hold on every day.
            out.refuse(
                f"working hours {lo:%H:%M}-{hi:%H:%M} {some_days} ({text!r}) are "
                "not read by the rules; not applied to every day"
            )
        elif lo and hi and lo < hi:
            p.workday_start, p.workday_end = lo, hi
            out.apply("hours", f"working hours {lo:%H:%M}-{hi:%H:%M} ({text!r})")
    starts = (b for b in ph.NOT_BEFORE.finditer(head) if ph.said_of_me(head, b))
    if (m := next(starts, None)) and (at := ph.start_of_day(m, *p.hours(*hours))):
        _hour(out, "not_before", at, scope, text)
    ends = (
        e
        for e in ph.NOT_AFTER.finditer(head)
        if not ph.OTHERS_END.search(head, 0, e.start()) and ph.said_of_me(head, e)
    )
    if (m := ph.DONE_BY.match(head) or next(ends, None)) and (
        at := ph.end_of_day(m, _earliest(p, hours[0], scope[0]))
    ):
        _hour(out, "not_after", at, scope, text)
    if m := ph.DAILY_MAX.search(head):
        cap = float(next(g for g in m.group("hours", "alt", "daily") if g))
        if kind := ph.cap_of(m, head):
            out.refuse(
                f"{cap:g} h a day {kind} caps one kind of activity, not all work: "
                f"no daily maximum applied ({text!r})"
            )
        elif some_days:
            out.refuse(
                f"a daily cap {some_days} is not read by the rules; not applied to "
                f"every day ({text!r})"
            )
        elif MIN_DAILY_CAP_HOURS <= cap <= 24:
            p.daily_max_hours = cap
            out.apply("daily_max", f"at most {cap:g} h a day ({text!r})")
        elif cap < MIN_DAILY_CAP_HOURS:
            out.refuse(
                f"a daily cap of {cap:g} h is under the least of "
                f"{MIN_DAILY_CAP_HOURS:g} h (no block would fit) ({text!r})"
            )
    if m := ph.BUFFER.search(head):
        minutes = int(next(g for g in m.groups() if g))
        meal = ph.MEAL.search(head)
        if meal and any(w in m.group(0).lower() for w in ("break", "pause")):
            out.refuse(
                f"a {meal.group(1).lower()} break is a break in the day, not a buffer "
                f"between blocks; the rules do not place it ({text!r})"
            )
        elif some_days:
            out.refuse(
                f"{minutes} min between blocks {some_days} is not read by the rules; "
                f"not applied to every day ({text!r})"
            )
        elif minutes <= 120:
            p.buffer_minutes = minutes
            out.apply("buffer", f"{minutes} min between blocks ({text!r})")
    lo, hi = _range(focus) if (focus := ph.FOCUS_RANGE.search(head)) else (None, None)
    m = None if focus else ph.PERIOD_FOR_FOCUS.search(head)
    if not focus and (
        m or ((m := ph.FOCUS.search(head)) and (m := ph.PERIOD.search(head, m.end())))
    ):
        morning = m.group(1).lower().startswith(("morning", "before"))
        lo, hi = (time(8), time(12)) if morning else (time(13), time(18))
    if not (lo and hi and lo < hi):
        pass  # no focus time said, or nonsense
    elif scope[1]:
        out.refuse(
            f"deep work preferred {lo:%H:%M}-{hi:%H:%M} is said for some days only, "
            f"the rules cannot tell which ({text!r})"
        )
    else:
        days = sorted(scope[0] or (0, 1, 2, 3, 4))
        p.preferred_windows.append(
            PreferredWindowIn(start=lo, end=hi, weekdays=days, label="deep work")
        )
        on = f" on {plural_days(days)}" if scope[0] else ""
        out.apply(None, f"deep work preferred {lo:%H:%M}-{hi:%H:%M}{on} ({text!r})")
    if off:
        names = [d.lower().removesuffix("s") + "s" for d in ph.ONE_DAY.findall(off.group(0))]
        gone = set().union(*(ph.DAY_NAMES[n] for n in names))
        days = p.working_days if p.working_days is not None else sorted(set(workdays))
        p.working_days = [d for d in days if d not in gone]
        out.apply(None, f"no work on {' and '.join(dict.fromkeys(names))} ({text!r})", "days")
    if half:
        said, period = [g for g in half.groups() if g]
        days_off = set().union(*(ph.weekdays_named(w) for w in ph.DAY_SCOPE.findall(said)))
        side = "not_before" if period.lower() == "morning" else "not_after"
        words = "before" if side == "not_before" else "after"
        line = f"on {plural_days(days_off)} nothing {words} 12:00 ({text!r})"
        _day_rule(out, side, time(12), days_off, line)


def parse_preferences(
    texts: Sequence[str],
    workdays: Sequence[int] = (0, 1, 2, 3, 4),
    hours: tuple[time, time] = SETTINGS_HOURS,
) -> ParsedPreferences:
    """Read preferences deterministically; later facts override earlier ones. A day off is
    taken from `workdays` (0 = Monday), the settings' working days; `hours`, the settings'
    working day, is what a bare "stop at 9" and hours that leave no time are judged by."""
    out = ParsedPreferences()
    for text in texts:
        out.per_text.append(([], []))
        before = len(out.applied) + len(out.ignored)
        _read(out, text, hours, workdays)
        if len(out.applied) + len(out.ignored) == before:
            out.not_understood.append(text)
    for tag, why in settle(out.prefs, hours, workdays):
        out.withdraw(tag, why)
    return out


def settle(
    prefs: SchedulingPreferences, hours: tuple[time, time], workdays: Sequence[int]
) -> list[tuple[str, str]]:
    """Take out of `prefs` what leaves no working time, for which the scheduler would use the
    settings instead (`problem.limits`): the (tag, why) of each, so none is listed as applied."""
    out: list[tuple[str, str]] = []
    lo, hi = prefs.hours(*hours)
    if lo >= hi:
        why = (
            f"with it a day has no working time ({lo:%H:%M} to {hi:%H:%M}); the settings' "
            f"hours {hours[0]:%H:%M}-{hours[1]:%H:%M} are used"
        )
        out += [(tag, why) for tag in ("hours", "not_before", "not_after")]
        prefs.workday_start = prefs.workday_end = prefs.not_before = prefs.not_after = None
        lo, hi = hours
    if prefs.working_days == []:
        out.append(("days", "it leaves no working day in the week; the settings' days are used"))
        prefs.working_days = None
    days = prefs.working_days if prefs.working_days is not None else workdays
    empty = {d for d in days if not _open(prefs.hours_on(d, lo, hi))}
    if empty:
        gone = [r for r in prefs.day_hours if empty & set(r.weekdays)]
        why = f"it leaves no working time on {plural_days(empty)}; the day's other hours are used"
        out += [(rule_tag(r), why) for r in gone]
        prefs.day_hours = [r for r in prefs.day_hours if r not in gone]
    return out


def _open(window: tuple[time, time]) -> bool:
    return window[0] < window[1]


HINT_MAX_CHARS = 500


def reads_as_preference(text: str) -> list[str]:
    """What the rules understand in one text ("nothing before 10:00"), without the text.

    Only a sentence-long text (`HINT_MAX_CHARS`) is read: a preference is one, and a long
    memory -- a note, a transcript -- that mentions a time is not a preference.
    """
    if len(text) > HINT_MAX_CHARS:
        return []
    return [line.rsplit(" (", 1)[0] for line in parse_preferences([text]).applied]


def remember_hint(text: str) -> str | None:
    """For a plain memory's answer (REST, MCP): a text the scheduler would read as a
    preference, were it a preference fact, says how to apply it; else None.

    Only a sentence-long text is read (`reads_as_preference`, shared with the CLI).
    """
    understood = reads_as_preference(text)
    if not understood:
        return None
    return (
        f"this looks like a scheduling preference ({'; '.join(understood)}); it was stored "
        "as a plain memory, which the scheduler does not read. To apply it, store it as a "
        "fact with fact_type 'preference' (POST /api/v1/memory/facts, or the add_fact tool)"
    )
