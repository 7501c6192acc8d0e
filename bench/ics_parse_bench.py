"""How long `parse_ics` takes on a large .ics export (about 6,000 events), before and after.

Usage: PYTHONPATH=src .venv/bin/python bench/ics_parse_bench.py [--events 6000] [--runs 7]
       [--days 170] [--before-src /work/main/src]

The file is generated here (seeded): mostly single meetings with a TZID (an IANA zone and an
Outlook-style "Customized Time Zone", each with its VTIMEZONE), some in UTC, some all-day,
and one in fifty a weekly series. Each run is a fresh process (the import's worker resets
icalendar's zone cache per file too) timing one `parse_ics` over a six-month window with the
occurrence and time bounds raised, so the whole file is read. With `--before-src` the two
checkouts alternate run by run, so machine load hits both alike; medians and their ratio.
`--days 1460` spreads the events over four years up to the window's end, as a real export
is: the import then parses only the events near its window (calendars/ics_reach.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, print_table, write_json  # noqa: E402

_ZONE = """BEGIN:VTIMEZONE\r
TZID:{tzid}\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""
ZONES = ("Europe/Berlin", "Customized Time Zone")
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


def make_file(events: int, seed: int = 1, days: int = 170) -> bytes:
    """A calendar export of `events` VEVENTs over `days` days from 5 January 2026 (170: all
    within `WINDOW`; more: an export of years, most of it outside the window)."""
    rnd = random.Random(seed)
    out = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//ics//EN\r\n"]
    out += [_ZONE.format(tzid=z) for z in ZONES]
    for i in range(events):
        day = datetime(2026, 1, 5, 8) + timedelta(days=rnd.randrange(days) - max(0, days - 170))
        start = day + timedelta(minutes=15 * rnd.randrange(40))
        end = start + timedelta(minutes=30 * rnd.randrange(1, 5))
        kind = i % 10
        if kind == 0:
            times = (
                f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{day + timedelta(1):%Y%m%d}"
            )
        elif kind == 1:
            times = f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}"
        else:
            tzid = ZONES[kind % 2]
            times = (
                f"DTSTART;TZID={tzid}:{start:%Y%m%dT%H%M%S}\r\n"
                f"DTEND;TZID={tzid}:{end:%Y%m%dT%H%M%S}"
            )
        rule = "\r\nRRULE:FREQ=WEEKLY;COUNT=4" if i % 50 == 0 else ""
        out.append(
            f"BEGIN:VEVENT\r\nUID:ev-{i}@bench\r\nDTSTAMP:20260101T000000Z\r\n{times}{rule}\r\n"
            f"SUMMARY:Meeting {i}\r\nDESCRIPTION:Agenda item {i}\r\nEND:VEVENT\r\n"
        )
    out.append("END:VCALENDAR\r\n")
    return "".join(out).encode()


def child(events: int, days: int) -> None:
    """One timed parse in this process; prints seconds and the events found, as JSON."""
    from zoneinfo import ZoneInfo

    from icalendar.timezone import tzp

    from almanac.calendars.ics import IcsLimits, parse_ics

    data = make_file(events, days=days)
    limits = IcsLimits(max_occurrences=100_000, time_budget_seconds=600)
    tzp.use_zoneinfo()  # as the import's worker does before each file
    began, cpu = time.perf_counter(), time.process_time()
    parsed = parse_ics(data, window=WINDOW, zone=ZoneInfo("Europe/Berlin"), limits=limits)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    # What was read, to compare across checkouts: the same events, not only as many.
    read = [(e.uid, e.start.isoformat(), e.end.isoformat(), e.busy, e.title) for e in parsed.events]
    digest = hashlib.sha256(repr(read).encode()).hexdigest()[:16]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "events": len(read),
                "digest": digest,
                "bytes": len(data),
            }
        )
    )


def run_once(src: Path, events: int, days: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--events", str(events), "--days", str(days)],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--days", type=int, default=170, help="days the events spread over")
    parser.add_argument("--before-src", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.events, args.days)
        return
    sources = {"this": ROOT / "src"}
    if args.before_src is not None:
        sources = {"before": args.before_src.resolve(), **sources}
    times: dict[str, list[float]] = {name: [] for name in sources}
    # CPU seconds too: on a shared machine wall time also counts the other processes' turns.
    cpus: dict[str, list[float]] = {name: [] for name in sources}
    found: dict[str, int] = {}
    digests: dict[str, str] = {}
    size = 0
    for _ in range(args.runs):
        for name, src in sources.items():
            result = run_once(src, args.events, args.days)
            times[name].append(result["seconds"])
            cpus[name].append(result["cpu"])
            found[name] = int(result["events"])
            digests[name] = str(result["digest"])
            size = int(result["bytes"])
    first = next(iter(sources))
    base, cpu_base = median(times[first]), median(cpus[first])
    rows = [
        [name, found[name], digests[name], median(ts), min(ts), max(ts), median(ts) / base]
        + [median(cpus[name]), median(cpus[name]) / cpu_base]
        for name, ts in times.items()
    ]
    print_table(
        f"parse_ics: {args.events} VEVENTs over {args.days} days, {size / 1e6:.2f} MB, "
        f"{args.runs} runs each",
        ["source", "events read", "digest", "median s", "min s", "max s", "ratio"]
        + ["median CPU s", "CPU ratio"],
        rows,
    )
    write_json(
        "ics_parse",
        {
            "events": args.events,
            "bytes": size,
            "runs": args.runs,
            "sources": {n: str(s) for n, s in sources.items()},
            "seconds": times,
            "medians": {n: median(ts) for n, ts in times.items()},
            "cpu_seconds": cpus,
            "cpu_medians": {n: median(ts) for n, ts in cpus.items()},
            "events_read": found,
            "digests": digests,
        },
    )


if __name__ == "__main__":
    main()
