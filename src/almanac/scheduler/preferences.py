"""Scheduling preferences from memory facts: simple sentences by rules, the rest by the LLM.

The rules read the common phrasings ("work 9-17", "no meetings before 10", "deep work in
the morning", "max 6 hours a day", "15 minutes between blocks"). With an LLM configured,
the `schedule_optimizer` prompt turns all facts into `SchedulingPreferences`; if that fails,
the rules' answer is used and a warning says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time

from pydantic import ValidationError

from almanac.errors import AlmanacError
from almanac.llm.base import LLMClient, Message, Prompt
from almanac.scheduler.schemas import (
    MIN_DAILY_CAP_HOURS,
    PreferredWindowIn,
    SchedulingPreferences,
)

# The blank before am/pm belongs to it: a bare `\s*(am|pm)?` then the next rule's `\s*`
# split one long blank every way (seconds on 20,000 spaces after "work 9"). "9.30" is
# half past nine, "p.m." is pm.
_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?(?:\s*([ap])\.?m\b\.?)?"
# Available for (or to) something, "for calls", "to clients", is not the working day.
_AVAILABLE = r"available(?!\s+(?:for|to)\b)"
# "I work out 6-7am" is no working day, nor is "9 to 10 hour days" a range of clocks.
_WORK = r"work(?!(?:ing)?\s+out\b)(?:ing)?"
_NOT_HOURS = r"(?!\d)(?!\s{0,3}-?\s{0,3}(?:h|hrs?|hours?)\b)"
_WORK_HOURS = re.compile(
    r"\b(?:"
    + _WORK
    + r"(?:\s+hours?)?|workday|office hours|my hours|"
    + _AVAILABLE
    + r")\D{0,12}?"
    + _CLOCK
    + r"\s*(?:-|–|to|until|till)\s*"
    + _CLOCK
    + _NOT_HOURS,
    re.I,
)
# "and" only after "between": "I work 9 and 10 hour days" is no working hours.
_WORK_BETWEEN = re.compile(
    r"\b(?:" + _WORK + r"(?:\s+hours?)?|workday|office hours|my hours|" + _AVAILABLE + r")"
    r"\D{0,12}?\bbetween\s+" + _CLOCK + r"\s+and\s+" + _CLOCK + _NOT_HOURS,
    re.I,
)
_NOT_BEFORE = re.compile(
    r"\b(?:no\s+(?:\w+\s+){0,2}before|not\s+before|nothing\s+before|never\s+before"
    r"|(?:don'?t|do not)\s+(?:\w+\s+){0,3}before|(?:I\s+)?start(?:\s+work(?:ing)?)?\s+(?:at|from)"
    r"|no(?:t|thing)?\s+earlier\s+than|(?:my\s+)?day\s+(?:starts|begins)\s+at"
    r"|earliest(?:\s+start)?(?:\s+is|:)?(?:\s+at)?)\s+" + _CLOCK,
    re.I,
)
_NOT_AFTER = re.compile(
    r"\b(?:no\s+(?:\w+\s+){0,2}after|not\s+after|nothing\s+after|never\s+after"
    r"|(?:don'?t|do not)\s+(?:\w+\s+){0,3}after"
    r"|(?:stop|finish|end|wrap\s+up)(?:\s+(?:work(?:ing)?|my\s+day|the\s+day))?\s+(?:at|by)"
    r"|no(?:t|thing)?\s+later\s+than|work(?:ing)?\s+(?:until|till)|(?:I'?m|I am)\s+done\s+(?:at|by)"
    r"|(?:my\s+)?day\s+ends\s+at|latest(?:\s+end)?(?:\s+is|:)?(?:\s+at)?)\s+" + _CLOCK,
    re.I,
)
# "Client meetings end at 4", "our calls finish by 3": when others' meetings end is not
# the end of the working day (the words just before "stop", "finish" or "end").
_OTHERS_END = re.compile(r"\b(?:meetings?|calls?|stand-?ups?|sessions?)\s*$", re.I)
# Nobody stops work at 5 in the morning: a bare hour up to 8 as the end of the day is pm.
_BARE_PM_UP_TO = 8
_HOURS = r"(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b"
_PER_DAY = r"(?:\s+(?:a|per|each|every)\s+day|\s*/\s*day|\s+daily)"
_DAILY_MAX = re.compile(
    r"\b(?:max(?:imum|\.)?(?:\s+of)?|at\s+most|(?:no|not)\s+more\s+than|more\s+than|up\s+to"
    r"|limit(?:\s+\w+){0,3}\s+to|cap(?:\s+\w+){0,3}\s+at)\s+"
    + _HOURS
    # "3 hours of meetings a day" caps meetings, which Almanac does not place: not work.
    + r"(?:\s+(?:of\s+)?(?!(?:meetings?|calls?)\b)[\w-]+){0,3}?"
    + _PER_DAY
    + r"|\b"
    + _HOURS.replace("(\\d", "(?P<alt>\\d", 1)
    + r"(?:\s+max(?:imum)?\s+(?:a|per)\s+day|"
    + _PER_DAY
    + r"\s+(?:max(?:imum)?|at most))"
    r"|\bdaily\s+(?:max(?:imum)?|limit|cap)\s*(?:of|:|is)?\s*(?P<daily>\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b",
    re.I,
)
_BUFFER = re.compile(
    r"\b(\d{1,3})[\s-]*(?:min(?:ute)?s?)\s+(?:of\s+)?(?:(?:buffer|break|gap|pause)s?\s+)?"
    r"(?:between|after|before)\s+(?:blocks|meetings|tasks|sessions|calls)"
    r"|\b(?:buffer|break|gap)s?(?:\s*:\s*|\s+of\s+|\s+)(\d{1,3})\s*min"
    r"|\b(\d{1,3})[\s-]*min(?:ute)?s?\s+buffers?\b",
    re.I,
)
# Deep work's period is the first one after the first mention, found in two linear
# searches: one pattern with a lazy `.*?` between them retried the rest of the text after
# every mention (quadratic on "deep work deep work ...").
_FOCUS = re.compile(r"\b(?:deep|focus(?:ed)?)\s+(?:work|time)\b|\bfocus\b", re.I)
_PERIOD = re.compile(r"\b(morning|afternoon|before noon|before lunch|after lunch)s?\b", re.I)
_PERIOD_FOR_FOCUS = re.compile(  # "mornings are for focus": the period first
    r"\b(morning|afternoon)s?\s+(?:are\s+)?(?:(?:reserved|blocked|kept)\s+)?for\s+"
    r"(?:deep|focus)",
    re.I,
)
# The rules read a fact's first characters only: a preference is a sentence, and this
# bounds the work of every schedule whatever a fact holds (the LLM reads it all).
PREFERENCE_MAX_CHARS = 2000
_DAY_NAMES = {
    "mondays": {0},
    "tuesdays": {1},
    "wednesdays": {2},
    "thursdays": {3},
    "fridays": {4},
    "saturdays": {5},
    "sundays": {6},
    "weekends": {5, 6},
}
_DAY = r"(?:weekends?|(?:mon|tues|wednes|thurs|fri|satur|sun)days?)"
# "Mondays, Wednesdays and Fridays"; not "friday afternoons" or "Fridays free for deep
# work": part of a day, or a day kept for something, is not a day off.
_DAYS = _DAY + r"(?:(?:\s*[,/&]\s*|\s+)(?:(?:and|or)\s+)?" + _DAY + r")*"
_WHOLE = r"(?!\s+(?:mornings?|afternoons?|evenings?|after|before|until|till|for|of|from)\b)"
_NO_DAY = re.compile(
    r"\b(?:no\s+work\s+on|(?:I\s+)?(?:don'?t|do not|never)\s+work(?:\s+on)?|never\s+on|off\s+on)"
    r"\s+("
    + _DAYS
    + r")\b"
    + _WHOLE
    # A bare "no" only as "No weekends." or "no Friday work": "No Friday meetings" is not.
    + r"|\bno\s+("
    + _DAYS
    + r")(?:\s+work(?:ing)?\b"
    + _WHOLE
    + r"|\s*(?:[.,;!?]|$))"
    + r"|\b("
    + _DAYS
    + r")\s+(?:are\s+)?(?:off|free)\b"
    + _WHOLE,
    re.I,
)
_ONE_DAY = re.compile(_DAY, re.I)


def _clock(hour: str, minute: str | None, meridiem: str | None) -> time | None:
    h, m = int(hour), int(minute or 0)
    if meridiem:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.lower() == "p" else 0)
    if h == 24 and m == 0:
        return time(23, 59)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


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

    def apply(self, kind: str | None, line: str) -> None:
        """`line` from the text read last; a later one of the same `kind` (a daily maximum,
        the earliest hour...) replaces the earlier, which is then no longer listed as applied."""
        i = len(self.per_text) - 1
        if kind is not None:
            if (old := self._in_force.get(kind)) is not None:
                self.applied.remove(old[0])
                self.per_text[old[1]][0].remove(old[0])
                self.refuse(f"{old[0]} is replaced by the later {line}", old[1])
            self._in_force[kind] = (line, i)
        self.applied.append(line)
        self.per_text[i][0].append(line)

    def refuse(self, reason: str, i: int = -1) -> None:
        self.ignored.append(reason)
        self.per_text[i][1].append(reason)


def _end_of_day(m: re.Match[str]) -> time | None:
    """The clock of a "stop at 5" rule: a bare hour up to `_BARE_PM_UP_TO` is pm ("05" is not
    bare: it says the morning)."""
    hour, minute, meridiem = m.group(1, 2, 3)
    at = _clock(hour, minute, meridiem)
    if at and not meridiem and not hour.startswith("0") and 1 <= at.hour <= _BARE_PM_UP_TO:
        return time(at.hour + 12, at.minute)
    return at


def parse_preferences(
    texts: Sequence[str], workdays: Sequence[int] = (0, 1, 2, 3, 4)
) -> ParsedPreferences:
    """Read preferences deterministically; later facts override earlier ones. A day off is
    taken from `workdays` (0 = Monday), the settings' working days."""
    out = ParsedPreferences()
    p = out.prefs
    for text in texts:
        out.per_text.append(([], []))
        before = len(out.applied) + len(out.ignored)
        head = text[:PREFERENCE_MAX_CHARS]
        if m := _WORK_HOURS.search(head) or _WORK_BETWEEN.search(head):
            lo, hi = _clock(*m.group(1, 2, 3)), _clock(*m.group(4, 5, 6))
            if lo and hi and hi <= lo and not m.group(6) and hi.hour < 12:
                hi = time(hi.hour + 12, hi.minute)  # "work 9-5" means 17:00
            pm_end = (m.group(6) or "").lower() == "p"
            if lo and hi and pm_end and not m.group(3) and lo.hour < 12 < lo.hour + 12 < hi.hour:
                lo = time(lo.hour + 12, lo.minute)  # "work 1-5pm" means 13:00, "9-5pm" 09:00
            if lo and hi and lo < hi:
                p.workday_start, p.workday_end = lo, hi
                out.apply("hours", f"working hours {lo:%H:%M}-{hi:%H:%M} ({text!r})")
        if m := _NOT_BEFORE.search(head):
            if at := _clock(*m.group(1, 2, 3)):
                p.not_before = at
                out.apply("not_before", f"nothing before {at:%H:%M} ({text!r})")
        ends = (e for e in _NOT_AFTER.finditer(head) if not _OTHERS_END.search(head, 0, e.start()))
        if m := next(ends, None):
            if at := _end_of_day(m):
                p.not_after = at
                out.apply("not_after", f"nothing after {at:%H:%M} ({text!r})")
        if m := _DAILY_MAX.search(head):
            hours = float(next(g for g in (m.group(1), m.group("alt"), m.group("daily")) if g))
            if MIN_DAILY_CAP_HOURS <= hours <= 24:
                p.daily_max_hours = hours
                out.apply("daily_max", f"at most {hours:g} h a day ({text!r})")
            elif hours < MIN_DAILY_CAP_HOURS:
                out.refuse(
                    f"a daily cap of {hours:g} h is under the least of "
                    f"{MIN_DAILY_CAP_HOURS:g} h (no block would fit) ({text!r})"
                )
        if m := _BUFFER.search(head):
            minutes = int(next(g for g in m.groups() if g))
            if minutes <= 120:
                p.buffer_minutes = minutes
                out.apply("buffer", f"{minutes} min between blocks ({text!r})")
        m = _PERIOD_FOR_FOCUS.search(head)
        if m or ((m := _FOCUS.search(head)) and (m := _PERIOD.search(head, m.end()))):
            morning = m.group(1).lower().startswith(("morning", "before"))
            lo, hi = (time(8), time(12)) if morning else (time(13), time(18))
            p.preferred_windows.append(PreferredWindowIn(start=lo, end=hi, label="deep work"))
            out.apply(None, f"deep work preferred {lo:%H:%M}-{hi:%H:%M} ({text!r})")
        if m := _NO_DAY.search(head):
            names = [d.lower().removesuffix("s") + "s" for d in _ONE_DAY.findall(m.group(0))]
            off = set().union(*(_DAY_NAMES[n] for n in names))
            days = p.working_days if p.working_days is not None else sorted(set(workdays))
            p.working_days = [d for d in days if d not in off]
            out.apply(None, f"no work on {' and '.join(dict.fromkeys(names))} ({text!r})")
        if len(out.applied) + len(out.ignored) == before:
            out.not_understood.append(text)
    return out


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


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def describe(prefs: SchedulingPreferences) -> list[str]:
    """Human lines for preferences that came from the LLM."""
    lines = []
    if prefs.workday_start and prefs.workday_end:
        lines.append(f"working hours {prefs.workday_start:%H:%M}-{prefs.workday_end:%H:%M}")
    if prefs.working_days is not None:
        names = [_WEEKDAYS[d] for d in sorted(set(prefs.working_days))]
        lines.append(f"working days {', '.join(names) or 'none'}")
    if prefs.not_before:
        lines.append(f"nothing before {prefs.not_before:%H:%M}")
    if prefs.not_after:
        lines.append(f"nothing after {prefs.not_after:%H:%M}")
    if prefs.daily_max_hours is not None:
        lines.append(f"at most {prefs.daily_max_hours:g} h a day")
    if prefs.buffer_minutes is not None:
        lines.append(f"{prefs.buffer_minutes} min between blocks")
    for w in prefs.preferred_windows:
        lines.append(f"{w.label} preferred {w.start:%H:%M}-{w.end:%H:%M}")
    return lines


async def llm_preferences(
    llm: LLMClient, prompt: str, version: str | None, texts: Sequence[str]
) -> SchedulingPreferences:
    """Ask the LLM to structure the preference facts (raises AlmanacError on failure)."""
    listing = "\n".join(f"- {t}" for t in texts)
    messages = [
        Message("system", prompt),
        Message("user", f"Preferences and constraints:\n{listing}"),
    ]
    result = await llm.complete_json(
        operation="scheduling",
        prompt=Prompt(messages, "schedule_optimizer", version),
        schema=SchedulingPreferences,
    )
    return result.value


async def resolve_preferences(
    texts: Sequence[str],
    llm: LLMClient | None,
    prompt: tuple[str, str | None] | None,
    warnings: list[str],
    workdays: Sequence[int] = (0, 1, 2, 3, 4),
) -> tuple[SchedulingPreferences, list[str], str]:
    """(preferences, applied lines, source) using the LLM when possible, else the rules."""
    parsed = parse_preferences(texts, workdays)
    if not texts:
        return parsed.prefs, [], "defaults"
    if llm is not None and prompt is not None:
        try:
            prefs = await llm_preferences(llm, prompt[0], prompt[1], texts)
            return prefs, describe(prefs), "llm"
        except (AlmanacError, ValidationError) as exc:
            # The LLM is an improvement, not a dependency: the rules still give an answer.
            warnings.append(f"LLM could not read the preferences ({exc}); used the rules instead")
    elif llm is not None:
        warnings.append("no active schedule_optimizer prompt; preferences read by rules")
    for text in parsed.not_understood:
        warnings.append(f"preference not understood by the rules: {text!r}")
    for reason in parsed.ignored:
        warnings.append(f"preference ignored: {reason}")
    return parsed.prefs, parsed.applied, "rules"
