"""Times on the user's clock, as the CLI and the MCP tools both show them (standard library
only, so any layer may use it)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def clock_span(start: datetime, end: datetime, tz: ZoneInfo, all_day: bool = False) -> str:
    """An event's time on the user's clock, as its day's row shows it: "09:00-10:30".

    The end is shown rounded up to its minute (an event ending 01:14:59.9, as exporters
    write the end of a quarter hour, ended at 01:15, not 01:14), and with its day when it
    ends on a later one than it starts: "Mon 01:00-01:14" read as 14 minutes for an event
    lasting until Wednesday. An end at midnight is the day's end, not the next day's."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    if all_day:
        # All day ends at the midnight after its last day.
        through = (last - timedelta(microseconds=1)).date()
        return "all day" if through <= first.date() else f"all day, to {_day(through, first)}"
    if last.second or last.microsecond:
        last = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    midnight = last.hour == last.minute == 0
    same_day = last.date() == first.date() or (
        midnight and last.date() == first.date() + timedelta(1)
    )
    if same_day:
        return f"{first:%H:%M}-{last:%H:%M}"
    return f"{first:%H:%M}-{_day(last, first)} {last:%H:%M}"


def _day(when: datetime | date, start: datetime) -> str:
    """A later day as "Thu 09 Dec", with its year when it is not the start's: an event of a
    year read "14:00-Thu 09 Dec 15:00" (and 9 Dec 2027 is no Thursday)."""
    return f"{when:%a %d %b}" + (f" {when.year}" if when.year != start.year else "")


def day_span(start: str, end: str | None, zone: str) -> str:
    """An answer's ISO times as a day and `clock_span` on `zone`'s clock ("2026-12-07
    01:00-Wed 09 Dec 01:15"): slicing the text read "01:00-01:14" for two nights."""
    tz = ZoneInfo(zone)
    first = datetime.fromisoformat(start)
    day = f"{first.astimezone(tz):%Y-%m-%d}"
    if end is None:
        return f"{day} {first.astimezone(tz):%H:%M}"
    return f"{day} {clock_span(first, datetime.fromisoformat(end), tz)}"


def on_clock(when: datetime, tz: ZoneInfo) -> str:
    """A time in a message as the user reads clocks: their zone, to the minute (the year
    only when it is not this one, the zone's name only in a repeated hour), as the
    scheduler's messages say times."""
    local = when.astimezone(tz)
    year = "" if local.year == datetime.now(tz).year else f" {local.year}"
    # In the hour the clocks go back, 01:30 is two times: the zone's name tells which.
    twice = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
    zone = f" {local.tzname()}" if twice else ""
    return f"{local:%a %d %b}{year} {local:%H:%M}{zone}"
