"""The days a preference names: days off, half days off, ranges and lists of days, and
the days a text's hours are said for (`scope`). Patterns and their readers only."""

from __future__ import annotations

import re
from collections.abc import Sequence

_DAY = r"(?:weekends?|(?:mon|tues|wednes|thurs|fri|satur|sun)days?)"
# "sat" and "sun" are words too ("I sat down", "the sun is out"): a day only after "on" or
# a day list's mark, or before one, a clock, or a part of the day ("Sat: 10-2", "Fri-Sun").
# The conditions are one lookahead, tried once: as two alternatives of the match, each
# "sat" of "sat, sat, sat" matched both ways and a list of them took exponential time
# (17 s for 100 characters).
# After a day and "and" or "or" too ("sat and sun. I work 9-5"): lookbehinds of fixed
# width inside that one lookahead, so a day is still matched one way only. Each width of
# short name has its own ("tues and sat" as "tue and sat").
_SHORT = r"\b(?:mon|tue|wed|thu|fri|sat|sun)"
_SHORT4 = r"\b(?:tues|weds|thur)"
_AFTER_DAY = (
    rf"(?<={_SHORT}\sand\s)|(?<={_SHORT}\.\sand\s)|(?<={_SHORT}\sor\s)|(?<={_SHORT}\.\sor\s)"
    rf"|(?<={_SHORT4}\sand\s)|(?<={_SHORT4}\.\sand\s)|(?<={_SHORT4}\sor\s)|(?<={_SHORT4}\.\sor\s)"
    r"|(?<=\bthurs\sand\s)|(?<=\bthurs\.\sand\s)|(?<=\bthurs\sor\s)|(?<=\bthurs\.\sor\s)"
    r"|(?<=day\sand\s)|(?<=days\sand\s)|(?<=day\sor\s)|(?<=days\sor\s)"
)
_SAT_SUN = (
    # The word first: the conditions' lookbehinds are then tried only where it stands.
    r"(?=(?:sat|sun)\b)"
    r"(?=(?<=\bon\s)|(?<=[-–/&,])|(?<=[-–/&,]\s)|"
    + _AFTER_DAY
    + r"|(?:sat|sun)\b\.?(?:\s*(?:[-–:,;/&!?]|\d|$)|\s+(?:and|or|to|through|thru|till|until|off"
    r"|only|mornings?|afternoons?|evenings?)\b|\s+are\s+(?:off|free)\b))(?:sat|sun)\b\.?"
)
_DAY_WORD = r"(?:" + _DAY + r"|(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri)\b\.?|" + _SAT_SUN + ")"
DAY_WORD = _DAY_WORD

# A list of days has at most this many more after its first: a week's days and "weekends".
# Unbounded, a pattern that needs something after the list ("sat, sun are off") ran through
# the rest of a list of hundreds from each of its days and failed each time: quadratic,
# 0.6 s for 2,000 characters of "sat, ".
_MORE_DAYS = "{0,7}"
# "Mondays, Wednesdays and Fridays"; not "friday afternoons" or "Fridays free for deep
# work": part of a day, or a day kept for something, is not a day off.
_DAYS = _DAY + r"(?:(?:\s*[,/&]\s*|\s+)(?:(?:and|or)\s+)?" + _DAY + r")" + _MORE_DAYS
# Also "no work on sat", "off on weds": after the words of a day off, a short name is a day.
# A blank after a short name's dot ends the sentence when the next day has its own hours:
# "No work on sat. Sat 10-2" is no list, "No work on Mon. Wed. Fri." is one.
_ANY_DAYS = (
    _DAY_WORD
    + r"(?:(?:\s*[,/&]\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+|(?<!\.)\s+"
    + r"|(?<=\.)\s+(?![a-z]+\.?\s*[:,]?\s*\d))"
    + _DAY_WORD
    + r")"
    + _MORE_DAYS
)
# "For" names what the day is kept for ("Fridays free for deep work"), except the one whose
# day it is: "Fridays are off for me" is a day off.
_PART_WORDS = (
    r"\s+(?:mornings?|afternoons?|evenings?|after|before|until|till"
    r"|for(?!\s+(?:me|myself|us)\b)|of|from)\b"
)
_TO = r"\s*(?:-|–|to|through|thru|till|until)\s*"
# Nor is the first day of "Mon to Wed mornings" a whole day off, nor "Fridays are off for me
# after 2".
_WHOLE = (
    r"(?!(?:\s+for\s+(?:me|myself|us)\b)?"
    + _PART_WORDS
    + r")(?!"
    + _TO
    + _DAY_WORD
    + r"\s+(?:mornings?|afternoons?|evenings?)\b)"
)
# Nor does the last day of a range begin the days off after it: "Mon to Fri, and weekends
# are off" took Friday off too ("Fri-Sun off", a range, is read whole).
_NOT_RANGE_END = (
    r"(?<!-)(?<!–)(?<![-–]\s)(?<!\bto\s)(?<!\bthrough\s)(?<!\bthru\s)(?<!\btill\s)(?<!\buntil\s)"
)
# What makes a day named part of one: "Mon to Wed mornings" is not three days off.
PART_AFTER = re.compile(_PART_WORDS, re.I)
# "Not available on Fridays", "I'm unavailable Fridays"; whose, the caller tells ("the
# client is not available on Fridays" is not the user's day off: `said_of_me`).
_UNAVAILABLE = r"|(?:(?:I'?m|I\s+am)\s+)?(?:not\s+available|unavailable)(?:\s+on)?"
NO_DAY = re.compile(
    r"\b(?:no\s+work(?:\s+on)?|(?:I\s+)?(?:don'?t|do not|never)\s+work(?:\s+on)?|never\s+on"
    # A bare "off every Friday" is the user's; "Sarah is off every Friday", "the gym's off on
    # Fridays" are someone's or something else's.
    r"|(?<!\bis\s)(?<!\bare\s)(?<!'s\s)(?<!’s\s)off\s+(?:on|every)"
    r"|(?:I'?m|I\s+am)\s+off(?:\s+every)?|my\s+days?\s+off\s+(?:is|are)" + _UNAVAILABLE + ")"
    r"\s+("
    + _ANY_DAYS
    + r")\b"
    + _WHOLE
    # "Fridays are my day off", "Friday is my day off".
    + r"|\b("
    + _ANY_DAYS
    + r")\s+(?:is|are)\s+my\s+days?\s+off\b"
    # A bare "no" only as "No weekends." or "no Friday work": "No Friday meetings" is not.
    + r"|\bno\s+("
    + _DAYS
    + r")(?:\s+work(?:ing)?\b"
    + _WHOLE
    + r"|\s*(?:[.,;!?]|$))"
    + r"|"
    + _NOT_RANGE_END
    + r"\b("
    + _DAY_WORD
    + _TO
    + _DAY_WORD
    + r"|"
    + _ANY_DAYS
    # "Fridays off", "every Friday is off", "Fridays are days off"; "Friday is free" is
    # not: it may say the user is free to meet then. Nor "Friday is off-site", "Fridays are
    # off limits for meetings", "off the table".
    + r")\s+(?:(?:are\s+)?(?:days?\s+)?off|(?:is\s+)(?:a\s+)?(?:days?\s+)?off|(?:are\s+)?free)\b"
    + r"(?![-‑])(?!\s+(?:limits|the\s+(?:table|record|grid|clock|hook)|site|campus|peak|line)\b)"
    + _WHOLE,
    re.I,
)
# Half a day off: "keep Friday afternoons free", "no work on Monday mornings"; not "Friday
# afternoons are free for deep work" nor "keep Friday afternoons free of calls".
_FREE = r"(?!\s+(?:for(?!\s+(?:me|myself|us)\b)|of|from)\b)"
# The days of half days off may be a range: "no work on mon to wed mornings".
_PART_DAYS = _DAY_WORD + _TO + _DAY_WORD + r"|" + _ANY_DAYS
PART_OFF = re.compile(
    r"\b(?:(?:no\s+work(?:ing)?(?:\s+on)?|(?:I\s+)?(?:don'?t|do not|never)\s+work(?:\s+on)?"
    r"|off(?:\s+on)?|(?:I'?m|I\s+am)\s+off" + _UNAVAILABLE + ")"
    r"\s+("
    + _PART_DAYS
    + r")\s+(morning|afternoon)s?\b"
    + _FREE
    + r"|keep\s+("
    + _PART_DAYS
    + r")\s+(morning|afternoon)s?\s+(?:free|off|clear|open)\b"
    + _FREE
    + r"|("
    + _PART_DAYS
    + r")\s+(morning|afternoon)s?\s+(?:are\s+)?(?:off|free)\b"
    + _FREE
    + r")",
    re.I,
)
# The days a sentence's hours hold on ("No work before 9 on Mondays", "Fri: stop at 3").
DAY_SCOPE = re.compile(r"\b" + _DAY_WORD, re.I)
# "Monday to Friday", "Mon-Fri": every day from one to the other.
DAY_RANGE = re.compile(
    r"\b(" + _DAY_WORD + r")\s*(?:-|–|to|through|thru|till|until)\s*(" + _DAY_WORD + r")", re.I
)
# "every other Friday": some of a day's weeks, which no preference holds (each holds every
# week).
_ALTERNATE = (
    r"every\s+(?:other|second|2nd|third|3rd|fourth|4th)|alternat(?:e|ing)|bi-?weekly"
    r"|fortnightly"
)
# "Stop at 5 except on Fridays", "every other Friday": the rules do not read which days
# are meant.
EXCEPT = re.compile(
    r"\b(?:except|other\s+than|apart\s+from|besides|excluding|but\s+not|unless|instead|"
    + _ALTERNATE
    + r")\b",
    re.I,
)
_SEASON = r"summer|winter|spring|autumn|fall|(?:school\s+)?holidays|vacations?"
_MONTHS = (
    r"january|february|march|april|(?-i:May)|june|july|august|september|october|november"
    r"|december"
)
# What says a text holds once, not every week: "Tomorrow I finish at 3", "no work after 6
# tonight", "this week at most 4 hours a day", "hard stop at 4 on March 3". Read as
# standing it would hold every day. "From tomorrow (on)", "starting today", "effective
# next week" begin a standing one: read.
_ONE_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_ONE_OFF = (
    r"(?<!\bfrom\s)(?<!\bstarting\s)(?<!\bas\sof\s)(?<!\bbeginning\s)(?<!\bsince\s)"
    r"(?<!\beffective\s)\b(?:today|tonight|tomorrow|tmrw|tmr"
    r"|(?:this|next)\s+(?:coming\s+)?(?:morning|afternoon|evening|week(?:end)?|month|"
    + _ONE_DAY
    + r")|until\s+(?:next\s+)?"
    + _ONE_DAY
    + r"|for\s+the\s+next\s+(?:\w+\s+)?(?:days?|weeks?|months?)"
    + r"|on\s+(?:the\s+)?\d{1,2}(?:st|nd|rd|th)|on\s+\d{1,2}[/.]\d{1,2}"
    + r"|on\s+(?:"
    + _MONTHS
    + r")\s+\d{1,2}|on\s+\d{1,2}\s+(?:"
    + _MONTHS
    + r"))\b(?!['’]s\b)(?!\s+(?:on|onwards?|forward)\b)"
)
ONE_OFF = re.compile(_ONE_OFF, re.I)
# A text that also says it holds every day is a standing preference with its exception
# ("Hard stop at 5 every day, including today", "I never work after 6, not even tonight").
STANDING = re.compile(
    r"\b(?:every\s*day|each\s+day|daily|always|never|including|from\s+now\s+on|every\s+week)\b",
    re.I,
)
# What says a text holds in some weeks only: "every other Friday off", "Fridays off in
# summer", "some Fridays", "the first Monday of the month", "I sometimes work Saturdays".
# Read as every week it would say more than was said. ("Usually" and "most" are the
# usual week, which is what a preference says: read.)
SOME_WEEKS = re.compile(
    r"\b(?:"
    + _ALTERNATE
    + r"|some\s+(?:"
    + _DAY
    + r"|days|weeks|mornings|afternoons|evenings)"
    + r"|(?:first|last|second|third|fourth|1st|2nd|3rd|4th)\s+"
    + _DAY
    + r"\s+(?:of|in)\s+(?:the|each|every|a)\s+month"
    + r"|(?:once|twice)\s+(?:a|per|every)\s+(?:month|quarter)"
    + r"|sometimes|occasionally|now\s+and\s+then"
    + r"|(?:in|during|over|through(?:out)?|for)\s+(?:the\s+)?(?:"
    + _SEASON
    + r"|"
    + _MONTHS
    + r")|(?:summer|winter)\s+(?:"
    + _DAY
    + r"|hours|months?|weeks?))\b"
    + r"|"
    + _ONE_OFF,
    re.I,
)
# What may stand between two days of one list: "Mondays and Wednesdays", "Tue, Thu".
_LIST_GAP = re.compile(r"\s*(?:[,/&]\s*)?(?:(?:and|or)\s+)?", re.I)


def weekdays_named(word: str) -> set[int]:
    """The weekdays (0 = Monday) one of `DAY_SCOPE`'s words names."""
    word = word.lower().rstrip(".")
    if word.startswith("weekend"):
        return {5, 6}
    return {("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(word[:3])}


def _range_days(m: re.Match[str]) -> set[int] | None:
    """Every day from a `DAY_RANGE` match's first to its last; None when an end is no single
    day ("Monday to weekend": its words count one by one)."""
    ends = weekdays_named(m.group(1)), weekdays_named(m.group(2))
    if not all(len(e) == 1 for e in ends):
        return None
    [lo], [hi] = ends
    return {(lo + i) % 7 for i in range((hi - lo) % 7 + 1)}


def days_of(words: str) -> set[int]:
    """The weekdays a list or a range of days names: "Mon to Wed" is three days."""
    r = DAY_RANGE.fullmatch(words.strip())
    if r is not None and (days := _range_days(r)) is not None:
        return days
    return set().union(*(weekdays_named(w) for w in DAY_SCOPE.findall(words)))


def scope(head: str, taken: Sequence[tuple[int, int]]) -> tuple[frozenset[int] | None, bool]:
    """(The days a text's hours are said for, None for every day; whether that is unclear).
    Days inside `taken` (a day off: "no work on Fridays") do not count."""
    # Which positions a day off or a range holds, marked once: a range ends before the next
    # begins, so checking each day against every range before it was quadratic.
    covered = bytearray(len(head) + 1)
    for a, b in taken:  # a clause's `taken` may lie before or after it
        lo, hi = max(a, 0), min(b, len(head))
        if lo < hi:
            covered[lo:hi] = b"\x01" * (hi - lo)
    said: list[tuple[int, int, set[int]]] = []  # where each day or range of days is named
    for m in DAY_RANGE.finditer(head):
        if covered[m.start()]:
            continue
        if (days := _range_days(m)) is not None:
            said.append((*m.span(), days))
            covered[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    for m in DAY_SCOPE.finditer(head):
        if not covered[m.start()]:
            said.append((*m.span(), weekdays_named(m.group(0))))
    if not said:
        return None, False
    # Different days named apart ("on Mondays I start at 10, on Fridays I finish at 3") each
    # go with their own hours, which the rules do not pair: unclear, like "except". A list
    # ("Mondays and Wednesdays") is one mention, and so is a day named again.
    said.sort(key=lambda x: x[0])
    groups = [set(said[0][2])]
    for (_, end, _), (start, _, days) in zip(said, said[1:], strict=False):
        if _LIST_GAP.fullmatch(head, end, start):
            groups[-1] |= days
        else:
            groups.append(set(days))
    apart = any(g != groups[0] for g in groups)
    return frozenset().union(*groups), apart or EXCEPT.search(head) is not None
