"""The VEVENTs of an .ics file that may reach the import's window, found in its text before
icalendar parses it: a multi-year export (6,000 events) was parsed whole for a window of
weeks, past the import's time budget, and refused.

Only a plain event is left out: a VCALENDAR's direct child, holding no component but
VALARMs, its UID used once in the file, no recurrence part (nor DURATION), and a DTSTART
and DTEND (or none) whose dates both lie days outside the window, in UTC or a zone known
here or defined in the file. Anything else is kept for the parser to judge, and a file
whose BEGIN and END lines do not pair up is handed on whole. One pass over the lines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_PHYSICAL = re.compile(rb"[^\n]*\n|[^\n]+\Z")
_SERIES = frozenset({b"RRULE", b"RDATE", b"EXDATE", b"EXRULE", b"RECURRENCE-ID", b"DURATION"})
_STAMP = re.compile(rb"(\d{4})(\d{2})(\d{2})(?:T\d{6}Z?)?")  # case as RFC 5545 writes it
_BOM = b"\xef\xbb\xbf"
# A zone's offset (at most a day either way) and the parser's day of slack each side.
_MARGIN = timedelta(days=3)


@dataclass
class _Block:
    start: int
    end: int = -1
    nested: bool = False  # holds a component other than a VALARM
    props: dict[bytes, tuple[dict[bytes, bytes], bytes]] = field(default_factory=dict)
    series: bool = False


def within_reach(data: bytes, window: tuple[datetime, datetime]) -> bytes:
    """`data` without the plain VEVENTs that cannot overlap `window` (see the module)."""
    scanned = _scan(data)
    if scanned is None:
        return data
    blocks, zones = scanned
    uids = [_uid(b) for b in blocks]
    used = Counter(uids)
    lo, hi = (window[0] - _MARGIN).date(), (window[1] + _MARGIN).date()
    out, at = [], 0
    for block, uid in zip(blocks, uids, strict=True):
        plain = uid is not None and used[uid] == 1 and not block.series and not block.nested
        if plain and _outside(block, zones, lo, hi):
            out.append(data[at : block.start])
            at = block.end
    if not out:
        return data
    out.append(data[at:])
    return b"".join(out)


def _scan(data: bytes) -> tuple[list[_Block], set[str]] | None:
    """The VCALENDARs' direct VEVENT children and the TZIDs the file's VTIMEZONEs define;
    None when BEGIN and END do not pair up."""
    stack: list[bytes] = []
    blocks: list[_Block] = []
    zones: set[str] = set()
    block: _Block | None = None
    for start, end, line in _logical_lines(data):
        head = line[:6].upper()
        if head == b"BEGIN:":
            name = line[6:].strip().upper()
            stack.append(name)
            if name == b"VEVENT" and stack == [b"VCALENDAR", b"VEVENT"]:
                block = _Block(start)
            elif block is not None and name != b"VALARM":
                block.nested = True
        elif head[:4] == b"END:":
            name = line[4:].strip().upper()
            if not stack or stack[-1] != name:
                return None
            stack.pop()
            if block is not None and name == b"VEVENT" and stack == [b"VCALENDAR"]:
                block.end = end
                blocks.append(block)
                block = None
        elif block is not None and len(stack) == 2:
            name, params, value = _property(line)
            block.series = block.series or name in _SERIES
            block.props.setdefault(name, (params, value))
        elif stack[-1:] == [b"VTIMEZONE"] and line[:4].upper() == b"TZID":
            name, _, value = _property(line)
            if name == b"TZID":
                zones.add(_text(value).strip("/"))
    return None if stack else (blocks, zones)


def _logical_lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, unfolded text without its line break) of each content line."""
    out: list[tuple[int, int, bytes]] = []
    for m in _PHYSICAL.finditer(data):
        text = m[0].rstrip(b"\r\n")
        if out and text[:1] in (b" ", b"\t"):
            start, _, joined = out[-1]
            out[-1] = (start, m.end(), joined + text[1:])
        else:
            out.append((m.start(), m.end(), text.removeprefix(_BOM) if not out else text))
    return out


def _property(line: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """A content line's name, parameters and value (a quoted parameter may hold ':')."""
    colon = line.find(b":")
    if b'"' in line[: max(colon, 0)]:
        quoted, colon = False, -1
        for i, char in enumerate(line):
            if char == 0x22:  # "
                quoted = not quoted
            elif char == 0x3A and not quoted:  # :
                colon = i
                break
    if colon < 0:
        return line.strip().upper(), {}, b""
    name, *parts = line[:colon].split(b";")
    params = {}
    for part in parts:
        key, _, value = part.partition(b"=")
        params[key.strip().upper()] = value.strip().strip(b'"')
    return name.strip().upper(), params, line[colon + 1 :]


def _uid(block: _Block) -> str | None:
    found = block.props.get(b"UID")
    return _text(found[1]).strip() or None if found else None


def _text(value: bytes) -> str:
    """A TEXT value unescaped, so "a\\,b" and "a,b" are one UID."""
    text = value.decode("utf-8", "replace")
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], text)


def _outside(block: _Block, zones: set[str], lo: date, hi: date) -> bool:
    start = _day(block.props.get(b"DTSTART"), zones)
    if start is None:
        return False
    end = _day(block.props[b"DTEND"], zones) if b"DTEND" in block.props else start
    if end is None:
        return False
    first, last = min(start, end), max(start, end)  # one ending before it starts is swapped
    return first > hi or last < lo


def _day(prop: tuple[dict[bytes, bytes], bytes] | None, zones: set[str]) -> date | None:
    """The date a DTSTART or DTEND says, when the text says it plainly: its zone is UTC,
    floating, known here or defined in the file (an unknown one is the parser's to refuse)."""
    if prop is None:
        return None
    params, value = prop
    tzid = params.get(b"TZID")
    if tzid is not None and not _known(_text(tzid).strip("/"), zones):
        return None
    m = _STAMP.fullmatch(value.strip())
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:  # not a date: the parser refuses it, naming the event
        return None


def _known(tzid: str, zones: set[str]) -> bool:
    return tzid in zones or _iana(tzid)


@lru_cache(maxsize=256)
def _iana(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:  # not a key, or no such zone (ValueError, ZoneInfoNotFoundError)
        return False
    return True
