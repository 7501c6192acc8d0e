"""Focus time in one preference text: "deep work in the morning", "focus time 1-4pm",
"mornings are for deep work", "No meetings in the morning" become a preferred window."""

from __future__ import annotations

import re
from datetime import time

from almanac.scheduler import preference_phrases as ph
from almanac.scheduler.preference_hours import clock_range
from almanac.scheduler.preference_parsed import ParsedPreferences, plural_days
from almanac.scheduler.schemas import PreferredWindowIn


def read_focus(
    out: ParsedPreferences, text: str, head: str, scope: tuple[frozenset[int] | None, bool]
) -> None:
    """Apply the focus time `head` says, on the days of `scope` (every working day: None)."""
    lo, hi = clock_range(focus) if (focus := ph.FOCUS_RANGE.search(head)) else (None, None)
    m = None if focus else ph.PERIOD_FOR_FOCUS.search(head)
    mention = focus or m
    edge = _focus_edge(head) if not focus else None
    if edge:
        lo, hi = _edge(edge)
        mention = mention or ph.FOCUS.search(head)
    elif not focus and (
        m or ((mention := ph.FOCUS.search(head)) and (m := ph.PERIOD.search(head, mention.end())))
    ):
        morning = m.group(1).lower().startswith(("morning", "before", "until", "till"))
        lo, hi = (time(8), time(12)) if morning else (time(13), time(18))
    # A period kept from meetings, when no focus time is said: its "no" is not one of focus.
    kept = ph.MEETING_FREE.search(head) if not (lo and hi) else None
    if kept:
        morning = kept.group(1).lower() == "morning"
        lo, hi = (time(8), time(12)) if morning else (time(13), time(18))
    if not (lo and hi and lo < hi):
        pass  # no focus time said, or nonsense
    elif (
        not kept
        and mention
        and ph.focus_not_wanted(
            head,
            mention.start(),
            (m or mention).end(),
            m.start() if m and mention is not m and m.start() > mention.start() else None,
        )
    ):
        out.refuse(
            f"deep work {lo:%H:%M}-{hi:%H:%M} is said as not wanted there; the rules do not "
            f"read when it is wanted instead: not applied ({text!r})"
        )
    elif scope[1]:
        out.refuse(
            f"deep work preferred {lo:%H:%M}-{hi:%H:%M} is said for some days only, "
            f"the rules cannot tell which ({text!r})"
        )
    else:
        days = sorted(scope[0] or (0, 1, 2, 3, 4))
        out.prefs.preferred_windows.append(
            PreferredWindowIn(start=lo, end=hi, weekdays=days, label="deep work")
        )
        on = f" on {plural_days(days)}" if scope[0] else ""
        out.apply(None, f"deep work preferred {lo:%H:%M}-{hi:%H:%M}{on} ({text!r})")


_PERIOD_BEFORE = re.compile(r"\b(?:morning|afternoon)s?\s+$", re.I)
_NEAR = 40  # at most this far from the focus mention: "mornings before 11 are for deep work"
_OTHER_CLAUSE = re.compile(r"[,;.]|\b(?:meetings?|calls?)\b", re.I)


def _focus_edge(head: str) -> re.Match[str] | None:
    """A clock bounding the focus time: right after its mention ("deep work before 11") or
    a period's ("mornings before 11 are for deep work"); not another clause's ("no
    meetings before 10, deep work in the mornings")."""
    mention = ph.FOCUS.search(head)
    if mention is None:
        return None
    for edge in ph.FOCUS_EDGE.finditer(head):
        if edge.start() >= mention.end():
            if not head[mention.end() : edge.start()].strip():
                return edge  # "deep work before 11"
            continue
        if mention.start() - edge.end() > _NEAR:  # bounded: a long text is read in linear time
            continue
        period = _PERIOD_BEFORE.search(head, max(0, edge.start() - 12), edge.start())
        if period and not _OTHER_CLAUSE.search(head, edge.end(), mention.start()):
            return edge  # "mornings before 11 are for deep work"
    return None


def _edge(m: re.Match[str]) -> tuple[time | None, time | None]:
    """Focus time up to a clock (from 08:00) or from one (to 18:00), as the periods read; a
    bare hour before 8 is an afternoon's ("after 2")."""
    at = ph.clock(*m.group(2, 3, 4))
    if at is not None and not m.group(4) and at.hour < 8:
        at = time(at.hour + 12, at.minute)
    if m.group(1).lower() in ("before", "until", "till"):
        return time(8), at
    end = ph.clock(*m.group(5, 6, 7)) if m.group(5) else None
    if end is not None and not m.group(7) and end <= (at or end) and end.hour < 12:
        end = time(end.hour + 12, end.minute)  # "after 1 until 5": 17:00
    return at, end or time(18)
