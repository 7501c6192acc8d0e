"""Bounds on recurrence expansion, shared by the .ics import and CalDAV reads.

Expanders (dateutil, recurring-ical-events) walk every period from DTSTART, even those
before the window, and cannot be interrupted: the steps a rule will walk are estimated
before it is expanded. A series whose rules would walk too far is refused naming its UID;
a source expanding to too many occurrences or taking too long, naming that bound.

The step cap bounds one series (a UID's rules), not the source: expanding a series within
the cap takes well under a second, and the time budget, checked after each series, bounds
the source. Summed over a source, an ordinary calendar (dozens of weekly meetings since
2015, Outlook's yearly BYMONTH;BYMONTHDAY birthdays since 1960) was refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

import icalendar

from almanac.calendars.ics_limits import IcsLimits

# Shortest length of one period of each frequency, in seconds: an upper bound on periods.
_PERIOD = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
_ORDER = list(_PERIOD)
# Days one period can expand to when BY* rules pick days inside it.
_DAYS = {"WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
_DAY_RULES = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS")
_TIME_RULES = ("BYHOUR", "BYMINUTE", "BYSECOND")


def _aware_utc(value: object, zone: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if hasattr(value, "year"):  # a DATE
        return datetime(value.year, value.month, value.day, tzinfo=zone)  # type: ignore[attr-defined]
    return None


def rule_steps(rule: dict[str, list[object]], start: datetime, until: datetime) -> int:
    """An upper bound on the steps a recurrence expander walks from `start` to `until`.

    Expanders (dateutil, recurring-ical-events) walk every period from DTSTART, even those
    before the window: RRULE:FREQ=SECONDLY with DTSTART a week back is 604,800 steps.
    """
    freq = str((rule.get("FREQ") or ["DAILY"])[0]).upper()
    interval = max(int(str((rule.get("INTERVAL") or [1])[0])), 1)
    ends = rule.get("UNTIL")
    rule_end = _aware_utc(ends[0], UTC) if ends else None
    end = until if rule_end is None else min(until, rule_end)
    seconds = max((end - start).total_seconds(), 0)
    periods = int(seconds // (_PERIOD.get(freq, 1) * interval)) + 1
    count = rule.get("COUNT")
    if count and not any(r in rule for r in _DAY_RULES + _TIME_RULES):
        # Without BY* filters every period is an occurrence: the walk stops after COUNT.
        periods = min(periods, max(int(str(count[0])), 1))
    per_period = _DAYS.get(freq, 1) if any(r in rule for r in _DAY_RULES) else 1
    rank = _ORDER.index(freq) if freq in _ORDER else 0
    for by, unit in (("BYHOUR", "HOURLY"), ("BYMINUTE", "MINUTELY"), ("BYSECOND", "SECONDLY")):
        if rank > _ORDER.index(unit):
            per_period *= max(len(rule.get(by) or []), 1)
    return periods * per_period


# The most days each month can have (February in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def never_occurs(rule: dict[str, list[object]]) -> bool:
    """Whether the rule's BYMONTH and BYMONTHDAY pick no day of any year (31 April, 30
    February): the only such impossibility cheap to see, and the one rules hit."""
    months, days = rule.get("BYMONTH"), rule.get("BYMONTHDAY")
    if not months or not days:
        return False
    try:
        picked = [int(str(m)) for m in months]
        wanted = [abs(int(str(d))) for d in days]
    except ValueError:
        return False  # unreadable parts are the expander's to refuse
    longest = max((_MONTH_DAYS[m - 1] for m in picked if 1 <= m <= 12), default=31)
    return min(wanted) > longest


class RecurrenceBudget:
    """One source's recurrence steps (per series), occurrences and time (a file to import,
    one read of a CalDAV calendar); `refuse` makes the exception each refusal raises, from
    a message naming the event's UID for a bound on one series, and the bound itself
    (`source` says of what) for one on the whole source."""

    def __init__(
        self,
        limits: IcsLimits,
        refuse: Callable[[str], Exception],
        *,
        source: str = "file",
        per: str | None = None,
        advice: str = "import a shorter window",
    ) -> None:
        self.limits = limits
        self.refuse = refuse
        self.source = source
        self.per = per or source  # what the bounds are counted per
        self.advice = advice
        # A bound on the whole file: its single events are read whatever the window, so a
        # shorter one alone did not help (16,000 events of 2 MB: "import a shorter window").
        self.whole_advice = (
            f"split the file (each import reads it whole), or {advice}"
            if source == "file"
            else advice
        )
        self.steps = 0  # of the series `self.uid`
        self.uid: str | None = None
        self.occurrences = 0
        self.deadline = time.monotonic() + limits.time_budget_seconds

    def walk(
        self,
        uid: str,
        vevent: icalendar.Component,
        until: datetime,
        zone: tzinfo,
        why: str | None = None,
        what: str | None = None,
        limit: int | None = None,
    ) -> None:
        """Count, before expanding it, the steps `vevent`'s rules walk up to `until`
        (a series' VEVENTs are walked one after another, before it is expanded); `why`
        says why a series that steps this often was not read as runs (calendars/runs.py);
        `what` names it in a refusal (default: the event), `limit` overrides the step cap."""
        what = what or f"event {uid!r}"
        limit = limit or self.limits.max_rule_steps
        if uid != self.uid:
            self.uid, self.steps = uid, 0
        rules = vevent.get("RRULE")
        if rules is None:
            return
        try:
            start = _aware_utc(vevent.decoded("DTSTART"), zone)
        except (KeyError, ValueError):
            return  # no usable start: the event is skipped later
        if start is None:
            return
        for rule in rules if isinstance(rules, list) else [rules]:
            try:
                interval = int(str((rule.get("INTERVAL") or [1])[0]))
                self.steps += rule_steps(rule, start, until)
            except ValueError as e:
                # icalendar parses a property when it is first read: an unknown FREQ or
                # an INTERVAL past 32 bits surfaces here (BrokenCalendarProperty).
                raise self.refuse(f"{what}: cannot read its RRULE: {e}") from e
            if interval < 1:
                # RFC 5545 3.3.10: a positive integer. dateutil walks INTERVAL=0 without end
                # (an import's worker killed after its grace, a CalDAV read's thread never).
                raise self.refuse(
                    f"{what}: its RRULE has INTERVAL={interval}; it must be a positive integer"
                )
            if never_occurs(rule):
                # The expander walks on for the next occurrence past the window, to the year
                # 9999 when there is none: seconds, refused as "took too long" whatever
                # the window.
                raise self.refuse(
                    f"{what}: its RRULE can never occur (no month of BYMONTH has a day of "
                    "BYMONTHDAY); fix or remove the rule"
                )
            if self.steps > limit:
                raise self.refuse(
                    f"{what}: its RRULE would expand about {self.steps:,} times "
                    f"between DTSTART and the window's end (limit "
                    f"{limit:,} per series); give it a later "
                    "DTSTART or a coarser rule"
                    + (f" (not read as continuous busy time: {why})" if why else "")
                )

    def zone(self, vtimezone: icalendar.Component, until: datetime) -> None:
        """Count the steps of a VTIMEZONE's rules up to `until`, as an event's: a time in
        that zone is looked up by walking them from their DTSTART (a SECONDLY rule from 1601
        walked for minutes while the file had passed every other bound). Ten times an
        event's cap: Outlook starts its zones' yearly rules in 1601, counted as days."""
        tzid = str(vtimezone.get("TZID", ""))
        what, limit = f"time zone {tzid!r}", 10 * self.limits.max_rule_steps
        self.uid = None  # each definition counted alone (every stored object has its own)
        for part in vtimezone.subcomponents:
            self.walk(f"VTIMEZONE {tzid}", part, until, UTC, what=what, limit=limit)

    def occurrences_of(self, uid: str, count: int) -> None:
        """Count `count` expanded occurrences of `uid`; refuse past the cap or the time.

        Both bound the whole source: a refusal names `uid` only when that series alone
        passes the cap (a file of 6,000 single events named whichever came 5,001st)."""
        self.occurrences += count
        cap = self.limits.max_occurrences
        bound = f"at most {cap} events per {self.per}"
        if count > cap:
            raise self.refuse(
                f"event {uid!r}: more than {cap} events in the window ({bound}); {self.advice}"
            )
        if self.occurrences > cap:
            raise self.refuse(
                f"the {self.source} has more than {cap} events in the window ({bound}); "
                f"{self.whole_advice}"
            )
        if time.monotonic() > self.deadline:
            seconds = f"{self.limits.time_budget_seconds:g} s"
            raise self.refuse(
                f"reading the {self.source} took longer than {seconds} "
                f"(at most {seconds} per {self.per}); {self.whole_advice}"
            )
