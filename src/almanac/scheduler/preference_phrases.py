"""The phrasings the preference rules read (`preferences.parse_preferences`): patterns only."""

from __future__ import annotations

import re
from datetime import time

from almanac.scheduler.preference_days import DAY_SCOPE, DAY_WORD

# The blank before am/pm belongs to it: a bare `\s*(am|pm)?` then the next rule's `\s*`
# split one long blank every way (seconds on 20,000 spaces after "work 9"). "9.30" is
# half past nine, "p.m." is pm; "15.12" and "10.10" may be dates (the 15th of December), so
# a dot takes minutes that no month has: 00 or 13 to 59 ("9.30", "17.45", "9.00").
CLOCK = r"(\d{1,2})(?:(?::|\.(?=(?:00|1[3-9]|[2-5]\d)(?!\d)))(\d{2}))?(?:\s*([ap])\.?m\b\.?)?"
# A date is no clock: "finish by 15 March", "the 3rd", "after 15/12".
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
_NOT_DATE = (
    r"(?!\d)(?![.:]\d)(?!\s{0,3}(?:st|nd|rd|th)\b)(?!\s{0,3}[/-]\s{0,3}\d)(?!\s{1,3}(?:of\s+)?"
    + _MONTH
    + ")"
)
# Available for (or to) something, "for calls", "to clients", is not the working day.
_AVAILABLE = r"available(?!\s+(?:for|to)\b)"
# "I work out 6-7am" is no working day, nor is "9 to 10 hour days" a range of clocks.
_WORK = r"work(?!(?:ing)?\s+out\b)(?:ing)?"
_NOT_HOURS = r"(?!\d)(?![.:]\d)(?!\s{0,3}-?\s{0,3}(?:h|hrs?|hours?)\b)"
NOT_HOURS = _NOT_HOURS
WORK_HOURS = re.compile(
    r"\b(?:"
    + _WORK
    + r"(?:\s+hours?)?|workday|office hours|my hours|"
    + _AVAILABLE
    + r")\D{0,12}?"
    + CLOCK
    + r"\s*(?:-|–|to|until|till)\s*"
    + CLOCK
    + _NOT_HOURS,
    re.I,
)
# "and" only after "between": "I work 9 and 10 hour days" is no working hours.
WORK_BETWEEN = re.compile(
    r"\b(?:" + _WORK + r"(?:\s+hours?)?|workday|office hours|my hours|" + _AVAILABLE + r")"
    r"\D{0,12}?\bbetween\s+" + CLOCK + r"\s+and\s+" + CLOCK + _NOT_HOURS,
    re.I,
)
# The words between "no" (or "don't") and "before"/"after" name work or its scheduling:
# "no caffeine after 2pm" and "I don't eat before 10" are no working hours.
_GAP = (
    r"(?:(?:work|working|meetings?|calls?|stand-?ups?|appointments?|tasks?|blocks?|sessions?"
    r"|anything|things|stuff"
    r"|schedul(?:e|ed|ing)|book|booked|plan|planned|put|want|any|more|client|focus|focused"
    r"|take|taking|accept|have"
    r"|deep|start|starting|me|please|do|be|on|" + DAY_WORD + r")\s+)"
)
NOT_BEFORE = re.compile(
    r"\b(?:no\s+" + _GAP + r"{0,3}before|not\s+before|nothing\s+before"
    r"|never\s+" + _GAP + r"{0,3}before"
    r"|(?:don'?t|do not)\s+"
    + _GAP
    + r"{0,3}before|(?:I\s+)?(?:start|begin)(?:\s+work(?:ing)?)?\s+(?:at|from|around|about)"
    # "I log on at 8", "I'm online from 8", "work starts at 9".
    r"|(?:log|sign)\s+on\s+(?:at|from)|clock\s+in\s+at|(?:I'?m|I\s+am)\s+online\s+(?:at|from)"
    r"|no(?:t|thing)?\s+earlier\s+than"
    r"|(?:my\s+)?(?:day|work(?:day)?)\s+(?:starts|begins)\s+(?:at|around|about)"
    r"|earliest(?:\s+start)?(?:\s+is|:)?(?:\s+at)?)\s+" + CLOCK + _NOT_DATE,
    re.I,
)
NOT_AFTER = re.compile(
    # "No work on Fridays after 3", "I never work after 6": the words between name work.
    r"\b(?:no\s+" + _GAP + r"{0,3}(?:after|past)|not\s+(?:after|past)|nothing\s+(?:after|past)"
    r"|never\s+"
    + _GAP
    + r"{0,3}(?:after|past)|(?:don'?t|do not)\s+"
    + _GAP
    + r"{0,3}(?:after|past)"
    # "No work before 9 and after 5": the end said in the same breath as the start.
    r"|(?:no\s+"
    + _GAP
    + r"{0,2}|not\s+|nothing\s+|never\s+|(?:don'?t|do not)\s+"
    + _GAP
    + r"{0,3})before\s+\d{1,2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\b\.?)?\s*,?\s*(?:and|or|nor|&)\s+"
    r"(?:not\s+|nothing\s+|never\s+)?(?:after|past)"
    r"|(?:stop|finish|end|wrap\s+up)(?:\s+(?:work(?:ing)?|my\s+day|the\s+day))?\s+(?:at|by)"
    r"|no(?:t|thing)?\s+later\s+than|work(?:ing)?\s+(?:until|till)|(?:I'?m|I am)\s+done\s+(?:at|by)"
    r"|(?:log\s+off|clock\s+(?:out|off)|knock\s+off|sign\s+off)\s+(?:at|by)"
    # "I'm off at 5", "I'm offline after 6", "done for the day at 5:30".
    r"|(?:I'?m|I\s+am)\s+(?:off|offline)\s+(?:at|by|after)|done\s+for\s+the\s+day\s+(?:at|by)"
    # "Fridays off after 13:00", "off from 1pm on Fridays".
    r"|(?<!\bcut\s)(?<!\btake\s)off\s+(?:after|from)"
    # "I leave at 5", "I leave the office at 6", "I'm out by 6".
    r"|leave(?:\s+(?:work|the\s+office))?\s+(?:at|by)|(?:I'?m|I\s+am)\s+out\s+(?:at|by)"
    r"|(?:my\s+)?day\s+ends\s+at|latest(?:\s+(?:end|finish|stop))?(?:\s+is|:)?(?:\s+at)?"
    # "Hard stop at 5", "my hard stop is 5pm"; not "I had a hard stop at 5" (`said_of_me`).
    r"|hard\s+(?:stop|finish)(?:\s+is)?(?:\s+(?:at|by)|:)?)\s+" + CLOCK + _NOT_DATE,
    re.I,
)
# "start at", "stop at", "work 9-5", "office hours", "available" said of someone else
# ("Client calls start at 10", "the kids finish at 3", "client work 9-12", "the client's
# office hours are 9-5", "their support is available 8-4"): only with no subject, or the
# user's own.
_VERBS = (
    "start",
    "begin",
    "sign",
    "knock",
    "done",
    "stop",
    "finish",
    "end",
    "wrap",
    "work",
    "clock",
    "log",
    "office",
    "available",
    "leave",
    "hard",
    "not available",
    "unavailable",
)
_MINE_BEFORE = re.compile(
    r"(?:^|[^\w\s']|\b(?:I|I'?m|I'?ll|I'?d|we|we'?re|usually|normally|typically|generally"
    r"|I\s+am|I(?:'?ll|'?d|\s+will|\s+would|\s+can|\s+should|\s+must)\s+be"
    r"|always|often|mostly|mainly|ideally|preferably|also|then|and|but|so|to|can|will|should"
    r"|must|want|like|prefer|need|please|only|just|my|our))\s*$",
    re.I,
)

# "I have a hard stop at 5", "we've got a hard stop": the user's ("the kids have a 3pm
# finish" is not: the clock-first phrasings keep `_MINE_BEFORE`).
_HAVE_A = re.compile(r"\b(?:I|we)(?:\s+have|'ve\s+got|\s+have\s+got|\s+got)\s+a\s*$", re.I)
_CLAUSE_BREAK = re.compile(r"[^\w\s'-]|\b(?:and|but|so|then|or|if|when|because|since|as)\b", re.I)
# "my" and "our" may own what does the verb ("our workshop will end at 4"): not owners.
_OWNERS = frozenset("i i'm im i'd i'll i've we we're we'd we'll we've me us myself".split())
_NO_SUBJECT = frozenset(
    "usually normally typically generally always often mostly mainly ideally preferably also "
    "to can will should must want like prefer need please only just try would could really "
    "am be on every each my our".split()
)
# "Available 9-5 for calls", "available 10-12 to clients": when, not the working day.
_FOR_SOMETHING = re.compile(r"\s*,?\s*(?:for|to)\s+(?!work\b)\w", re.I)


def said_of_me(head: str, m: re.Match[str]) -> bool:
    """Whether a match that starts with a verb ("stop at 5") has the user as its subject
    (and availability is for work, not for something: "available 9-5 for calls")."""
    said = m.group(0).lower()
    if said.startswith("available") and _FOR_SOMETHING.match(head, m.end()):
        return False
    if not said.startswith(_VERBS) or (
        said.startswith("hard") and _HAVE_A.search(head, 0, m.start())
    ):
        return True
    if _MINE_BEFORE.search(head, max(0, m.start() - 40), m.start()) is None:
        return False
    # "usually", "should", "will" say nothing of whose: "the migration should finish at
    # 3" is not the user's day. The clause before the verb names the user or no one.
    cut = max(0, m.start() - 80)
    for c in _CLAUSE_BREAK.finditer(head, cut, m.start()):
        cut = c.end()
    words = [w.lower() for w in re.findall(r"[\w']+", head[cut : m.start()])]
    return any(w in _OWNERS for w in words) or all(
        w in _NO_SUBJECT or DAY_SCOPE.fullmatch(w) for w in words
    )


# "Done by 6pm" as the whole sentence's start is the end of the day; "have the report done
# by 5pm" is a task's deadline.
DONE_BY = re.compile(r"^\W{0,3}(?:done|finished)\s+(?:at|by)\s+" + CLOCK + _NOT_DATE, re.I)
# "9am start, 5pm finish": the clock first, with a meridiem or minutes ("3 start-ups" is no
# clock), and the user's (`clock_first_mine`: "the kids have a 3pm finish" is not).
CLOCK_START = re.compile(r"(?<![\w.:])" + CLOCK + r"\s+(?:start|begin)\b(?!-)", re.I)
CLOCK_END = re.compile(r"(?<![\w.:])" + CLOCK + r"\s+(?:finish|end|stop|hard\s+stop)\b(?!-)", re.I)


def clock_first_mine(head: str, m: re.Match[str]) -> bool:
    """Whether a `CLOCK_START` or `CLOCK_END` match is a clock of the user's day."""
    if not (m.group(2) or m.group(3)):
        return False
    return _MINE_BEFORE.search(head, max(0, m.start() - 40), m.start()) is not None


# "Client meetings end at 4", "our calls finish by 3": when others' meetings end is not
# the end of the working day (the words just before "stop", "finish" or "end").
_OTHERS_END = re.compile(r"\b(?:meetings?|calls?|stand-?ups?|sessions?)\s*$", re.I)
_OTHERS_LONGEST = len("stand-ups")


def others_end(head: str, at: int) -> bool:
    """Whether the words just before `at` name others' meetings ("Client meetings end at 4").
    Searched from the blank's start back a word's length, not from the text's start: that
    was quadratic on "meetings stop at 5 " again and again."""
    k = at
    while k > 0 and head[k - 1].isspace():
        k -= 1
    return _OTHERS_END.search(head, max(0, k - _OTHERS_LONGEST - 1), at) is not None


# "I leave at 12 for lunch", "I stop at 3 for an hour": a pause, not the end of the day.
PAUSE = re.compile(
    r"\s*(?:for|to\s+(?:have|grab|get|take))\s+(?:an?\s+|my\s+|some\s+)?(?:lunch|coffee|tea"
    r"|meal|dinner|breakfast|break|pause|nap|walk|hour\b|\d+\s*(?:min\w*|h|hrs?|hours?)\b)",
    re.I,
)
# Nobody stops work at 5 in the morning: a bare hour up to 8 as the end of the day is pm.
_BARE_PM_UP_TO = 8
_LEAST_DAY_MINUTES = 180
# "10 minutes between each meeting", "15m between calls", "half an hour between meetings".
_BETWEEN = (
    r"(?:(?:between|after|before)\s+(?:(?:all|my|client|back-to-back)\s+)?"
    r"(?:blocks|meetings|tasks|sessions|calls|appointments)\b"
    r"|(?:between|after|before)\s+(?:each|every)\s+(?:client\s+)?"
    r"(?:block|meeting|task|session|call|appointment)s?\b)"
)
BUFFER = re.compile(
    r"\b(\d{1,3})[\s-]*(?:min(?:ute)?s?|m)\s+(?:of\s+)?(?:(?:buffer|break|gap|pause)s?\s+)?"
    + _BETWEEN
    + r"|\b(?:buffer|break|gap)s?(?:\s*:\s*|\s+of\s+|\s+)(\d{1,3})\s*min"
    r"|\b(\d{1,3})[\s-]*min(?:ute)?s?\s+(?:buffers?|gaps)\b"
    r"|\b(?P<half>half\s+an\s+hour)\s+(?:(?:buffer|break|gap|pause)s?\s+)?" + _BETWEEN,
    re.I,
)
# "lunch break 60 min" is a break in the day, not a gap between every two blocks.
MEAL = re.compile(r"\b(lunch|coffee|tea|meal|dinner|breakfast)\b", re.I)
# Deep work's period is the first one after the first mention, found in two linear
# searches: one pattern with a lazy `.*?` between them retried the rest of the text after
# every mention (quadratic on "deep work deep work ...").
FOCUS = re.compile(
    r"\b(?:deep|focus(?:ed)?)\s+(?:work|time)\b|\bfocus\b|\bmy\s+best\s+work\b", re.I
)
# "No deep work in the afternoon", "I can't focus in the mornings": not when it goes.
_NOT = r"(?:\b(?:no|not|never|avoid|hate|without|cannot)\b|n'?t\b)"
FOCUS_NOT = re.compile(_NOT, re.I)
# Just before the mention: "no deep work", "never schedule deep work", "I can't focus".
_NOT_BEFORE_FOCUS = re.compile(_NOT + r"(?:\s+[\w']+){0,2}\s*$", re.I)
_FOCUS_CLAUSE = re.compile(r"[,;:.!?()]|\s[-–—]\s|\b(?:but|and|while|whereas)\b", re.I)
FOCUS_RANGE = re.compile(
    r"\b(?:deep|focus(?:ed)?)\s+(?:work|time)\s*(?:is\s+|:\s*)?(?:from\s+|between\s+)?"
    + CLOCK
    + r"\s*(?:-|–|to|until|till|and)\s*"
    + CLOCK
    + _NOT_HOURS,
    re.I,
)
# Noon and midday are a clock too: "until noon" is the morning, "after noon" the afternoon.
PERIOD = re.compile(
    r"\b(morning|afternoon|(?:before|until|till)\s+(?:noon|midday|lunch)"
    r"|after\s+(?:noon|midday|lunch))s?\b",
    re.I,
)
PERIOD_FOR_FOCUS = re.compile(  # "mornings are for focus": the period first
    r"\b(morning|afternoon)s?(?:\s*:\s*|\s+(?:(?:are|is)\s+)?"
    r"(?:(?:reserved|blocked|kept|protected|free|clear)\s+)?for\s+)(?:deep|focus)",
    re.I,
)
# "Mornings before 11 are for deep work", "deep work after 3pm": a clock bounding focus time.
FOCUS_EDGE = re.compile(
    r"\b(before|until|till|after|from)\s+"
    + CLOCK
    + _NOT_HOURS
    + _NOT_DATE
    + r"(?:\s*(?:-|–|to|until|till)\s*"  # "after 9am until 11am": its end too
    + CLOCK
    + _NOT_HOURS
    + r")?",
    re.I,
)
# "No meetings in the morning", "keep mornings free of meetings": the scheduler places no
# meetings, only blocks of work, and a period kept from meetings is kept for that work --
# read as focus time then (not as no work in the morning, the opposite of what is meant).
MEETING_FREE = re.compile(
    r"\b(?:no\s+(?:meetings?|calls?)\s+(?:in\s+the\s+|during\s+the\s+|on\s+)?(?:"
    + DAY_WORD
    + r"\s+)?|keep\s+(?:my\s+)?(?=(?:morning|afternoon)s?\s+(?:free|clear)\s+(?:of|from)\s+"
    r"(?:meetings|calls)\b))(morning|afternoon)s?\b",
    re.I,
)


def focus_not_wanted(head: str, a: int, b: int, period_at: int | None = None) -> bool:
    """Whether the focus time said in `head[a:b]` (its mention and its period, which starts
    at `period_at` when it follows the mention) is said as not wanted: "no deep work in
    the afternoon", "deep work should not be in the morning", "focus, not in the
    afternoon". Read from the start of the mention's clause, up to a short reach before
    the mention, and in the words just before the period."""
    start = max(0, a - 40)
    for c in _FOCUS_CLAUSE.finditer(head, start, a):
        start = c.end()
    # Only within the mention's clause: a period in another is not read as negated...
    end = br.start() if (br := _FOCUS_CLAUSE.search(head, a, b)) else b
    if _NOT_BEFORE_FOCUS.search(head[start:a]) or FOCUS_NOT.search(head, a, end):
        return True
    # ...unless the negation stands right before the period itself.
    return period_at is not None and bool(
        _NOT_BEFORE_FOCUS.search(head, max(a, period_at - 20), period_at)
    )


def clock(hour: str, minute: str | None, meridiem: str | None) -> time | None:
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


def end_of_day(m: re.Match[str], earliest: time) -> time | None:
    """The clock of a "stop at 5" rule. A bare hour ("05" is not bare: it says the morning)
    is pm up to `_BARE_PM_UP_TO`, and when the morning would leave less than a short day
    after the earliest hour: "stop at 9" in a day that starts at 9 means 21:00, not a day
    without working time, and "I finish at 10" not a one-hour day."""
    hour, minute, meridiem = m.group(1, 2, 3)
    at = clock(hour, minute, meridiem)
    bare = at is not None and not meridiem and not hour.startswith("0") and 1 <= at.hour < 12
    short = at is not None and _minutes(at) - _minutes(earliest) < _LEAST_DAY_MINUTES
    if at and bare and (at.hour <= _BARE_PM_UP_TO or short):
        return time(at.hour + 12, at.minute)
    return at


def start_of_day(m: re.Match[str], earliest: time, latest: time) -> time | None:
    """The clock of a "no work before 2" rule. A bare hour (not "02") whose morning lies
    before the day's `earliest` hour, so would change nothing, and whose afternoon lies
    before its `latest`, is pm: "no work before 2 on Mondays" after a flight is 14:00."""
    hour, minute, meridiem = m.group(1, 2, 3)
    at = clock(hour, minute, meridiem)
    bare = at is not None and not meridiem and not hour.startswith("0") and 1 <= at.hour < 12
    if at and bare and at < earliest and time(at.hour + 12, at.minute) < latest:
        return time(at.hour + 12, at.minute)
    return at


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute
