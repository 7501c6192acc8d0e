"""Scheduling preferences from memory facts by rules: the common phrasings ("work 9-17",
"no meetings before 10", "deep work in the morning", "max 6 hours a day", "15 minutes
between blocks"). The LLM path, with these rules as its fallback, is `preference_llm`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time

from almanac.scheduler import preference_caps as caps
from almanac.scheduler import preference_days as pd
from almanac.scheduler import preference_phrases as ph
from almanac.scheduler.preference_clauses import some_weeks_clause
from almanac.scheduler.preference_focus import read_focus
from almanac.scheduler.preference_hours import (
    days_apart,
    days_elsewhere,
    read_hours,
)
from almanac.scheduler.preference_numbers import spelled_as_digits
from almanac.scheduler.preference_parsed import (
    ParsedPreferences,
    day_rule,
    plural_days,
    rule_tag,
)
from almanac.scheduler.preference_week import read_week, week_after, week_then
from almanac.scheduler.schemas import (
    MIN_DAILY_CAP_HOURS,
    SchedulingPreferences,
)

__all__ = ["ParsedPreferences", "parse_preferences", "plural_days", "rule_tag", "settle"]

# The rules read a fact's first characters only: a preference is a sentence, and this
# bounds the work of every schedule whatever a fact holds (the LLM reads it all).
PREFERENCE_MAX_CHARS = 2000
SETTINGS_HOURS = (time(9), time(17))  # the settings' default working day
_DAY_NAMES = ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays")


def _range_on(head: str, at: int) -> list[set[int]]:
    """The days after the first of a day off said as a range ("I don't work Mon to Wed"),
    ending at `at`; only Monday was taken off. None when the range ends in part of a day."""
    start = max((m.start() for m in pd.DAY_SCOPE.finditer(head, 0, at)), default=at)
    r = pd.DAY_RANGE.match(head, start)
    if r is None or r.end() <= at or pd.PART_AFTER.match(head, r.end()):
        return []
    first, last = min(pd.weekdays_named(r.group(1))), min(pd.weekdays_named(r.group(2)))
    return [{(first + i) % 7} for i in range(1, (last - first) % 7 + 1)]


def _named_off(head: str, a: int, b: int) -> list[set[int]]:
    """The days a day off in head[a:b] names, in order; a range ("Fri-Sun off") each of its
    days (only its ends were taken off)."""
    out: list[set[int]] = []
    for r in pd.DAY_RANGE.finditer(head, a, b):
        out += [pd.weekdays_named(d[0]) for d in pd.DAY_SCOPE.finditer(head, a, r.start())]
        first = min(pd.weekdays_named(r[1]))
        out += [{d} for d in sorted(pd.days_of(r[0]), key=lambda d: (d - first) % 7)]
        a = r.end()
    return out + [pd.weekdays_named(d[0]) for d in pd.DAY_SCOPE.finditer(head, a, b)]


def _read(
    out: ParsedPreferences, text: str, hours: tuple[time, time], workdays: Sequence[int]
) -> None:
    """Apply what the rules understand in one text (`out.per_text`'s last entry); a text
    said for some weeks only ("every other Friday off", "Fridays off in summer"), none of
    it: each preference holds every week, so read it would say more than was said (every
    Friday off). Unless the qualifier clearly lies within one clause of its own, which is
    then not applied while the others are (`some_weeks_clause`)."""
    head = spelled_as_digits(text[:PREFERENCE_MAX_CHARS])
    if pd.STANDING.search(head):  # "every day, including today": the day is no qualifier
        head = pd.ONE_OFF.sub(lambda m: " " * len(m[0]), head)
    some = pd.SOME_WEEKS.search(head)
    if some is None:
        _read_text(out, text, head, hours, workdays)
        return
    # The clause must say something by itself ("Fridays off, but only in summer": its
    # clause does not), and so must the rest; a one-off's clause need not ("Max 6 hours a
    # day, tomorrow only 2": an exception to what the rest says).
    cut = some_weeks_clause(head)
    qualifier = pd.SOME_WEEKS.search(head, cut[0], cut[1]) if cut else None
    if cut and qualifier:
        part = head[cut[0] : cut[1]]
        alone = _trial(text, part, hours, workdays, refused=True)
        rest = _rest(head, cut)
        own = _says_more(part, qualifier) and pd.ONE_OFF.fullmatch(qualifier[0])
        if (alone or own) and _trial(text, rest, hours, workdays):
            clause = part.strip(" ,;")
            if alone:
                _refuse_all(out, text, part, hours, workdays, qualifier[0], clause)
            else:
                out.refuse(
                    f"{clause!r}: said for that time only ({qualifier[0]!r}), a preference "
                    f"holds every week; not applied; the text's other clauses are read ({text!r})"
                )
            _read_text(out, text, rest, hours, workdays)
            return
    _refuse_all(out, text, head, hours, workdays, some[0])


# Words that add nothing to a one-off qualifier: "(today only)" governs the whole text.
_FILLER = frozenset("only just too also and but or as well for then even not so".split())


def _says_more(part: str, qualifier: re.Match[str]) -> bool:
    """Whether a one-off's clause says something besides its qualifier ("tomorrow only 2"),
    so it is an exception to the rest, not the time the whole text holds for."""
    words = re.findall(r"[\w']+", part.replace(qualifier[0], " ", 1).lower())
    return any(w not in _FILLER for w in words)


def _trial(
    text: str,
    head: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
    refused: bool = False,
) -> bool:
    """Whether the rules apply something reading `head` alone (or refuse it: `refused`)."""
    trial = ParsedPreferences()
    trial.per_text.append(([], []))
    _read_text(trial, text, head, hours, workdays)
    return bool(trial.applied or (refused and trial.ignored))


def _refuse_all(
    out: ParsedPreferences,
    text: str,
    head: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
    qualifier: str,
    clause: str = "",
) -> None:
    """Nothing `head` says is applied: it holds in some weeks only (`qualifier`)."""
    trial = ParsedPreferences()
    trial.per_text.append(([], []))
    _read_text(trial, text, head, hours, workdays)
    if trial.applied:
        said = "; ".join(line.removesuffix(f" ({text!r})") for line in trial.applied)
        where = f"in {clause!r}, " if clause else ""
        rest = "; the text's other clauses are read" if clause else ""
        once = pd.ONE_OFF.fullmatch(qualifier) is not None
        which = "a preference holds every week" if once else "the rules cannot tell which"
        out.refuse(
            f"{said}: said for {'that time' if once else 'some days'} only ({qualifier!r}), "
            f"{where}{which}; not applied{rest} ({text!r})"
        )
    for reason in trial.ignored:
        out.refuse(reason)


def _rest(head: str, cut: tuple[int, int]) -> str:
    """The text without the clause at `cut`, and without a joining word left dangling."""
    before, after = _DANGLING.sub("", head[: cut[0]]), head[cut[1] :].strip(" ,;")
    return f"{before}, {after}" if before and after else before or after


_DANGLING = re.compile(r"(?:\s*(?:[,;:]|\band\b|\bbut\b))+\s*$", re.I)


def _read_text(
    out: ParsedPreferences,
    text: str,
    head: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
) -> None:
    if read_week(out, text, head, hours, workdays):
        return  # "I work Tue-Sat 9-5": the days worked and their hours, nothing else
    # "Mon-Fri 9-5, no work after 3 on Fridays": the week, then what the rules read in the
    # rest (only when they read it: "Mon-Fri 9-5, Acme's support line" is no working week).
    if (cut := week_then(head)) and _understood(head[cut[1] :], hours, workdays):
        read_week(out, text, head[: cut[0]], hours, workdays, more=cut[2])
        head = head[cut[1] :]
        # The rest's days and hours are the week's ("I work Tue-Sat, Saturdays 8-1": the
        # other days worked keep their hours).
        workdays = out.prefs.working_days or workdays
    elif (after := week_after(head)) and _understood(head[: after[0]], hours, workdays):
        # "Weekends off, Mon-Fri 9-5": the week first, so that the days off come off it.
        read_week(out, text, head[after[1] :], hours, workdays)
        head = head[: after[0]]
    _read_rules(out, text, head, hours, workdays)


def _understood(head: str, hours: tuple[time, time], workdays: Sequence[int]) -> bool:
    trial = ParsedPreferences()
    trial.per_text.append(([], []))
    _read_rules(trial, head, head, hours, workdays)
    return bool(trial.applied or trial.ignored)


def _read_rules(
    out: ParsedPreferences,
    text: str,
    head: str,
    hours: tuple[time, time],
    workdays: Sequence[int],
) -> None:
    """Apply what the rules other than the working week understand in `head`."""
    p = out.prefs
    # Whose day off: "the client is not available on Fridays" is not the user's.
    off = next((d for d in pd.NO_DAY.finditer(head) if ph.said_of_me(head, d)), None)
    half = next((d for d in pd.PART_OFF.finditer(head) if ph.said_of_me(head, d)), None)
    taken = [m.span() for m in (off, half) if m]
    scope = hours_scope = pd.scope(head, taken)
    if scope[0] and not scope[1] and workdays and set(workdays) <= scope[0]:
        scope = (None, False)  # "9-5 Monday to Friday": every working day
        if not days_apart(head, taken, workdays):
            hours_scope = scope
    some_days = f"said for {plural_days(scope[0])} only" if scope[0] else ""
    if scope[1]:
        some_days = "said for some days only, the rules cannot tell which"
    read_hours(out, text, head, hours_scope, taken, hours, workdays)
    if m := next((c for c in caps.DAILY_MAX.finditer(head) if ph.said_of_me(head, c)), None):
        cap = caps.cap_hours(m)
        if reason := _not_all_work(m, head, text, "day"):
            out.refuse(reason)
        elif some_days and not days_elsewhere(head, m.start(), taken, workdays):
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
    if m := next((c for c in caps.WEEKLY_MAX.finditer(head) if ph.said_of_me(head, c)), None):
        mine = "" if days_elsewhere(head, m.start(), taken, workdays) else some_days
        _weekly(out, m, head, text, mine)
    if m := ph.BUFFER.search(head):
        minutes = 30 if m.group("half") else int(next(g for g in m.groups() if g))
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
    read_focus(out, text, head, scope)
    if off:
        named = _named_off(head, *off.span()) + _range_on(head, off.end())
        names = ["weekends" if len(d) > 1 else _DAY_NAMES[min(d)] for d in named]
        gone = set().union(*named)
        days = p.working_days if p.working_days is not None else sorted(set(workdays))
        p.working_days = [d for d in days if d not in gone]
        out.apply(None, f"no work on {' and '.join(dict.fromkeys(names))} ({text!r})", "days")
    if half:
        said, period = [g for g in half.groups() if g]
        days_off = pd.days_of(said)
        side = "not_before" if period.lower() == "morning" else "not_after"
        words = "before" if side == "not_before" else "after"
        line = f"on {plural_days(days_off)} nothing {words} 12:00 ({text!r})"
        day_rule(out, side, time(12), days_off, line, part=True)


_BILLED = (
    "{} of billed work is not a cap on all work, and the scheduler has no limit on billed "
    "hours (only a sprint's billable share): not applied ({!r})"
)


def _not_all_work(m: re.Match[str], head: str, text: str, per: str) -> str | None:
    """Why a cap (a day's or a week's, matched by `m`) is not one on all work: billed
    hours, or one kind of activity; None when it is."""
    cap = caps.cap_hours(m)
    if caps.billed(m, head):
        return _BILLED.format(f"{cap:g} h a {per}", text)
    if kind := caps.cap_of(m, head):
        return (
            f"{cap:g} h a {per} {kind} caps one kind of activity, not all work: "
            f"no {'daily' if per == 'day' else 'weekly'} maximum applied ({text!r})"
        )
    return None


def _weekly(out: ParsedPreferences, m: re.Match[str], head: str, text: str, some_days: str) -> None:
    """A cap on the week's work: the core's weekly capacity (a sprint's, when smaller)."""
    cap = caps.cap_hours(m)
    if reason := _not_all_work(m, head, text, "week"):
        out.refuse(reason)
    elif some_days:
        out.refuse(f"a weekly cap {some_days} is not read by the rules ({text!r})")
    elif MIN_DAILY_CAP_HOURS <= cap <= 168:
        out.prefs.weekly_max_hours = cap
        out.apply("weekly_max", f"at most {cap:g} h a week ({text!r})")
    else:
        out.refuse(f"a weekly cap of {cap:g} h is no week's work ({text!r})")


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
    # "Sat 10-2" with Saturday no working day: hours the scheduler never uses, not applied.
    idle = [r for r in prefs.day_hours if not set(r.weekdays) & set(days)]
    for r in idle:
        why = f"{plural_days(r.weekdays)} are not working days, so it changes nothing"
        out.append((rule_tag(r), why))
    prefs.day_hours = [r for r in prefs.day_hours if r not in idle]
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
