"""Times typed on the command line, read on the user's clock (`ALMANAC_TIMEZONE`).

Standard library, typer and the API's year bounds (typer already brings pydantic).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import NoReturn
from zoneinfo import ZoneInfo

import typer

from almanac.types import MAX_YEAR, MIN_YEAR


def zone_name() -> str:
    """The zone typed times are read in and shown on: ALMANAC_TIMEZONE when this shell (or
    ./.env) sets it, else the running server's, else UTC. A CLI without it read "09:00" in
    UTC while the server, the dashboard and every schedule lived in Europe/Berlin."""
    from almanac.cli.connect import data_dir, setting

    configured = setting("ALMANAC_TIMEZONE")
    if configured:
        return configured
    from almanac.discovery import find_record

    for service in ("planner", "memory"):
        record = find_record(data_dir(), service)
        if record is not None and record.timezone and record.alive():
            return record.timezone
    return "UTC"


def local_time(value: str, zone: str, field: str) -> tuple[str, bool]:
    """`value` with an offset: a time without one is read in `zone` (ALMANAC_TIMEZONE).
    Returns the value and whether the zone was used; unreadable text is left for the
    schema to reject, and a wall time the zone skips (a DST gap) or shows twice (the hour the
    clocks go back) is refused: which of the two was meant only an offset can say."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value, False
    if parsed.tzinfo is not None:
        return value, False
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        # Refused here: year 1 or 9999 overflows in another zone, and before about 1890 a
        # zone's local mean time has an offset in seconds the API cannot read.
        _out_of_range(field)
    tz = ZoneInfo(zone)
    aware = parsed.replace(tzinfo=tz)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != parsed:
        typer.echo(f"error: {field}: {value} does not exist in {zone} (a DST change)", err=True)
        raise typer.Exit(2)
    if aware.utcoffset() != aware.replace(fold=1).utcoffset():
        offsets = " or ".join(_offset(aware.replace(fold=f)) for f in (0, 1))
        typer.echo(
            f"error: {field}: {value} happens twice in {zone} (the clocks go back); "
            f"give its offset ({offsets})",
            err=True,
        )
        raise typer.Exit(2)
    return aware.isoformat(), True


def typed_time(value: str | None, field: str) -> str | None:
    """A time typed for `field`, read as every command reads one: with its offset, or
    without one in ALMANAC_TIMEZONE. Text that is no time is refused here, saying what is
    (`--at yesterday` was the schema's "input is too short")."""
    if value is None:
        return None

    zone = zone_name()
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError):  # zoneinfo raises a KeyError subclass for unknown zones
        typer.echo(
            f"error: ALMANAC_TIMEZONE: {zone!r} is no time zone (e.g. Europe/Berlin)", err=True
        )
        raise typer.Exit(2) from None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        typer.echo(
            f"error: {field}: {value!r} is no time: give a date and time, ISO 8601 "
            f"(2026-12-03T17:30, read in {zone}, or with an offset: 2026-12-03T17:30+01:00)",
            err=True,
        )
        raise typer.Exit(2) from None
    return local_time(value, zone, field)[0]


def _out_of_range(field: str) -> NoReturn:
    typer.echo(f"error: {field}: must lie between the years {MIN_YEAR} and {MAX_YEAR}", err=True)
    raise typer.Exit(2) from None


def _offset(value: datetime) -> str:
    text = value.isoformat()
    return text[len(text) - 6 :]


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    # fold=0 reads a midnight the clocks skip with the offset before the change: the
    # instant the day begins.
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC).astimezone(tz)


def window_bound(value: str, zone: str, field: str, *, end: bool) -> tuple[str, bool]:
    """A window's bound as the API takes it (ISO 8601 with an offset), and whether `zone`
    was used. A date alone is its whole day in `zone`: from its first instant (`end`
    False) or through its last (`end` True: the API's `until` includes its instant); a
    time without an offset is read in `zone` as `local_time` reads it."""
    try:
        day = date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return local_time(value, zone, field)
    if not MIN_YEAR <= day.year <= MAX_YEAR:  # 9999-12-31's next day was a traceback
        _out_of_range(field)
    tz = ZoneInfo(zone)
    if not end:
        return _day_start(day, tz).isoformat(), True
    last = _day_start(day + timedelta(days=1), tz) - timedelta(microseconds=1)
    return last.astimezone(tz).isoformat(), True
