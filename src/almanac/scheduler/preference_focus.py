"""Focus time in one preference text: "deep work in the morning", "focus time 1-4pm",
"mornings are for deep work", "No meetings in the morning" become a preferred window."""

from __future__ import annotations

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
    if not focus and (
        m or ((mention := ph.FOCUS.search(head)) and (m := ph.PERIOD.search(head, mention.end())))
    ):
        morning = m.group(1).lower().startswith(("morning", "before"))
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
