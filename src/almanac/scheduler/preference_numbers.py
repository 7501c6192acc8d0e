"""Number words in a preference, as the digits the rules' patterns read: "I work eight hours
a day", "start at nine", "half past nine" are read as "8 hours", "9" and "9:30".

Only where a number word is an amount of hours or a clock (before "hours" or "am", after
"at", "until", "between"...): "one of my clients" and "no one before standup" stay words.
"""

from __future__ import annotations

import re

_VALUES = "one two three four five six seven eight nine ten eleven twelve".split()
_NUMBER = {word: i + 1 for i, word in enumerate(_VALUES)}
_WORD = r"(?:" + "|".join(_VALUES) + r")"
_HOUR = r"(" + _WORD + r"|\d{1,2})"
# "half past nine" 9:30, "quarter past nine" 9:15, "quarter to nine" 8:45.
_PAST = re.compile(r"\b(half|(?:a\s+)?quarter)\s+(past|to)\s+" + _HOUR + r"\b", re.I)
# "nine o'clock" is 9, and so is "9 o'clock".
_OCLOCK = re.compile(r"\b" + _HOUR + r"\s*o['’]?\s?clock\b", re.I)
# Before hours, a meridiem or the other end of a range: "eight hours", "nine am", "nine to
# five", "six-hour days".
_BEFORE_UNIT = re.compile(
    r"\b(" + _WORD + r")(?=\s*-?\s*(?:hours?\b|hrs?\b|h\b|[ap]\.?m\b"
    r"|(?:-|–|to|till|until)\s*(?:" + _WORD + r"\b|\d)))",
    re.I,
)
# After a word that names a clock or an amount: "at nine", "until six", "than six".
_AFTER_WORD = re.compile(
    r"\b(at|before|after|until|till|by|from|past|than|between|and|to|around|about)\s+("
    + _WORD
    + r")\b",
    re.I,
)


def _number(word: str) -> int:
    return _NUMBER[word.lower()] if not word.isdigit() else int(word)


def _past(m: re.Match[str]) -> str:
    hour = _number(m.group(3))
    minutes = 30 if m.group(1).lower() == "half" else 15
    if m.group(2).lower() == "to":
        if m.group(1).lower() == "half":
            return m.group(0)  # "half to nine" is no English clock
        hour, minutes = (hour - 2) % 12 + 1, 45
    return f"{hour}:{minutes:02d}"


def spelled_as_digits(text: str) -> str:
    """`text` with its number words of hours and clocks (one to twelve) as digits."""
    text = _PAST.sub(_past, text)
    text = _OCLOCK.sub(lambda m: str(_number(m.group(1))), text)
    text = _BEFORE_UNIT.sub(lambda m: str(_number(m.group(1))), text)
    return _AFTER_WORD.sub(lambda m: f"{m.group(1)} {_number(m.group(2))}", text)
