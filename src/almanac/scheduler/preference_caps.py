"""The phrasings of a cap on working hours (`preferences.parse_preferences`): "max 6 hours
a day", "at most 30 h a week", and what a cap is on when not all work ("of email", "per
client", billed hours)."""

from __future__ import annotations

import re

from almanac.scheduler.preference_days import DAY_SCOPE

_HOURS = r"(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b"


def _cap(day: str, daily: str) -> re.Pattern[str]:
    """A cap of hours per `day` ("day", "week"), `daily` its adverb ("daily", "weekly")."""
    per = rf"(?:\s+(?:a|per|each|every)\s+{day}|\s*/\s*{day}|\s+{daily})"
    return re.compile(
        r"\b(?:max(?:imum|\.)?(?:\s+of)?|at\s+most|(?:no|not)\s+more\s+than|more\s+than"
        r"|up\s+to|limit(?P<pre1>(?:\s+[\w-]+){0,3}?)\s+to|cap(?P<pre2>(?:\s+[\w-]+){0,3}?)\s+at)\s+"
        + _HOURS.replace("(\\d", "(?P<hours>\\d", 1)
        + r"(?P<what>(?:\s+(?:of\s+)?[\w-]+){0,3}?)"
        + per
        + r"|\b"
        + _HOURS.replace("(\\d", "(?P<alt>\\d", 1)
        + rf"(?:\s+max(?:imum)?\s+(?:a|per)\s+{day}|"
        + per
        # "6h per day is my limit"
        + r"\s+(?:max(?:imum)?|at most|(?:is\s+)?(?:my\s+|the\s+)?(?:limit|cap|max(?:imum)?)\b))"
        # "I work 6 hours a day": whose, `said_of_me` tells ("the client's team work...").
        + r"|\bwork\s+(?:about\s+|around\s+|roughly\s+)?"
        + _HOURS.replace("(\\d", "(?P<worked>\\d", 1)
        + per
        + rf"|\b{daily}\s+(?:max(?:imum)?|limit|cap)\s*(?:of|:|is)?\s*"
        r"(?P<daily>\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b",
        re.I,
    )


def cap_hours(m: re.Match[str]) -> float:
    """The hours a `DAILY_MAX` or `WEEKLY_MAX` match caps."""
    return float(next(g for g in m.group("hours", "alt", "daily", "worked") if g))


# The words around the hours ("limit MY WORK to", "6 hours OF EMAIL a day") say what is
# capped: `cap_of` tells all work from one kind of activity.
DAILY_MAX = _cap("day", "daily")
WEEKLY_MAX = _cap("week", "weekly")
# Billed hours are a share of the work, not all of it: "I bill at most 6 hours a day".
BILLING = re.compile(r"\b(?:bill(?:s|ed|ing|able)?|invoic\w*|chargeable)\b", re.I)
# "Max 2h/day email": a bare noun that ends the sentence names what is capped, unless it
# only says how the cap is meant ("max 6 hours a day please").
_BARE_KIND = re.compile(r"\s+([a-z][\w-]*)\s*(?:[.,;!?)]|$)", re.I)
_NEUTRAL = frozenset(
    "please max maximum tops total overall only ideally preferably thanks absolute hard soft "
    "limit cap".split()
)
# "of email", and a cap for each of something: "per client", "on any one client".
_AFTER_CAP = re.compile(
    r"\s+(?:(?P<each>per|each|(?:for|on|with|in)\s+(?:each|every|any))(?:\s+(?:one|single))?"
    r"|of|for|on|doing|in)\s+(?P<kind>[\w-]+)",
    re.I,
)
# Words that leave a cap on all work: "8 hours of focused work", "6 h a day on average".
_ALL_WORK = frozenset(
    "work working worked focus focused deep time productive actual real total in of my the a "
    "me i myself on average weekdays workdays now day days".split()
)


def billed(m: re.Match[str], head: str) -> bool:
    """Whether a cap is on billed hours: "I bill at most 6 hours a day"."""
    return BILLING.search(head, max(0, m.start() - 40), min(len(head), m.end() + 25)) is not None


def cap_of(m: re.Match[str], head: str) -> str | None:
    """What a `DAILY_MAX` match caps when not all work: "of email" in "max 2h/day of email",
    "per client" in "max 3 hours per day per client"."""
    words = " ".join(g for g in m.group("pre1", "pre2", "what") if g).split()
    after = _AFTER_CAP.match(head, m.end())
    if after and after.group("each"):
        return f"per {after.group('kind')}"
    if after:
        words.append(after.group("kind"))
    elif (bare := _BARE_KIND.match(head, m.end())) and bare.group(1).lower() not in _NEUTRAL:
        words.append(bare.group(1))
    kind = [w for w in words if w.lower() not in _ALL_WORK and not DAY_SCOPE.fullmatch(w)]
    return f"of {' '.join(kind)}" if kind else None
