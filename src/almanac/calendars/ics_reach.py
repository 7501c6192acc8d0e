"""The VEVENTs of an .ics file that may reach the import's window, found in its text before
icalendar parses it: a multi-year export (6,000 events) was parsed whole for a window of
weeks, past the import's time budget, and refused.

Only a plain event is left out: its UID used once in the file, no recurrence part (nor
DURATION), and a DTSTART and DTEND (or none) whose dates both lie days outside the window.
Anything the text does not say plainly is kept for the parser to judge, so a bad date or
an unknown zone in a kept event is still refused as before.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta

_BLOCK = re.compile(rb"^BEGIN:VEVENT\r?\n.*?^END:VEVENT[ \t]*(?:\r?\n|\Z)", re.I | re.M | re.S)
_FOLD = re.compile(rb"\r?\n[ \t]")
_SERIES = re.compile(rb"^(?:RRULE|RDATE|EXDATE|EXRULE|RECURRENCE-ID|DURATION)[;:]", re.I | re.M)
_UID = re.compile(rb"^UID(?:;[^:\r\n]*)?:(.*?)\r?$", re.I | re.M)
_DTSTART = re.compile(rb"^DTSTART(?:;[^:\r\n]*)?:(\d{8})(?:T\d{6}Z?)?\r?$", re.I | re.M)
_DTEND = re.compile(rb"^DTEND(?:;[^:\r\n]*)?:(\d{8})(?:T\d{6}Z?)?\r?$", re.I | re.M)
_HAS_DTEND = re.compile(rb"^DTEND[;:]", re.I | re.M)
# A zone's offset (at most a day either way) and the parser's day of slack each side.
_MARGIN = timedelta(days=3)


def within_reach(data: bytes, window: tuple[datetime, datetime]) -> bytes:
    """`data` without the plain VEVENTs that cannot overlap `window` (see the module)."""
    blocks = list(_BLOCK.finditer(data))
    if not blocks:
        return data
    read = [_FOLD.sub(b"", m[0]) for m in blocks]
    uids = [u[1].strip() if (u := _UID.search(text)) else None for text in read]
    used = Counter(uids)
    lo, hi = (window[0] - _MARGIN).date(), (window[1] + _MARGIN).date()
    out, at = [], 0
    for m, text, uid in zip(blocks, read, uids, strict=True):
        if uid and used[uid] == 1 and not _SERIES.search(text) and _outside(text, lo, hi):
            out.append(data[at : m.start()])
            at = m.end()
    if not out:
        return data
    out.append(data[at:])
    return b"".join(out)


def _outside(text: bytes, lo: date, hi: date) -> bool:
    start = _day(_DTSTART.search(text))
    if start is None:
        return False
    end = _day(_DTEND.search(text)) if _HAS_DTEND.search(text) else start
    if end is None:
        return False
    first, last = min(start, end), max(start, end)  # one ending before it starts is swapped
    return first > hi or last < lo


def _day(m: re.Match[bytes] | None) -> date | None:
    if m is None:
        return None
    digits = m[1]
    try:  # strptime took half of this module's time
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:  # not a date: the parser refuses it, naming the event
        return None
