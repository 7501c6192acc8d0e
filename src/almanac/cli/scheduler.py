"""`almanac schedule PLAN_ID` (preview as a week view, confirm, write) and `almanac agenda`.

Like the other commands, they call the API: a running server when one answers, else the
same app in-process.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from almanac.cli.output import emit
from almanac.cli.runtime import answer, api_client, err, run
from almanac.cli.validation import validated
from almanac.cli.when import zone_name
from almanac.clock import clock_span
from almanac.config import Settings
from almanac.scheduler.schemas import CalendarEventOut, CalendarOut, ScheduleIn, ScheduleOut

console = Console()
API = "/api/v1/scheduler"


async def _schedule(settings: Settings, url: str | None, body: ScheduleIn) -> ScheduleOut:
    async with api_client(settings, url) as client:
        response = await client.post(f"{API}/schedule", json=body.model_dump(mode="json"))
        return ScheduleOut.model_validate(answer(response))


# Below this width a week's seven columns are too narrow for "09:00-10:00": each day is a
# list instead ("09:00-10:0" / "0 Kick-off" was the table at 80 columns).
WEEK_TABLE_MIN_WIDTH = 120


def week_view(
    out: ScheduleOut, busy: list[CalendarEventOut] | None = None, width: int = 200
) -> list[Table | str]:
    """Tables of seven days from the window's first day: the plan's blocks, and the
    calendar's other busy events (your meetings) marked as such; a week with neither is
    one line, not an empty table. In a terminal narrower than `WEEK_TABLE_MIN_WIDTH`, a
    day per heading with its lines under it."""
    tz = ZoneInfo(out.timezone)
    first = out.window_start.astimezone(tz).date()
    last = (out.window_end.astimezone(tz) - timedelta(seconds=1)).date()
    items: list[tuple[datetime, str]] = [
        (b.start, f"{clock_span(b.start, b.end, tz)} {b.title}") for b in out.blocks
    ]
    for e in busy or []:
        if not e.almanac and e.busy:
            when = clock_span(e.start, e.end, tz, e.all_day)
            items.append((e.start, f"[dim]{when} {e.title} (busy)[/dim]"))
    by_day: dict[date, list[str]] = {}
    for at, text in sorted(items, key=lambda i: i[0]):
        by_day.setdefault(at.astimezone(tz).date(), []).append(text)
    tables: list[Table | str] = []
    day = first
    while day <= last:
        days = [d for d in (day + timedelta(n) for n in range(7)) if d <= last]
        day += timedelta(days=7)
        if not any(d in by_day for d in days):
            span = f"{days[0]:%a %d %b}" + (f" to {days[-1]:%a %d %b}" if len(days) > 1 else "")
            tables.append(f"plan {out.plan_id}: nothing from {span}")
            continue
        if width < WEEK_TABLE_MIN_WIDTH:
            # The days shown, not "week of Fri 04 Dec": weeks elsewhere start on Monday.
            shown = f"{days[0]:%a %d %b}" + (f" to {days[-1]:%a %d %b %Y}" if days[1:] else "")
            tables.append(f"[bold]plan {out.plan_id}: {shown}[/bold]")
            for d in days:
                tables += (
                    [f"{d:%a %d}"] + [f"  {t}" for t in by_day.get(d, [])] if d in by_day else []
                )
            continue
        table = Table(title=f"plan {out.plan_id}: {days[0]:%a %d %b %Y}", show_lines=True)
        for d in days:
            table.add_column(f"{d:%a %d}", overflow="fold")
        table.add_row(*("\n".join(by_day.get(d, [])) for d in days))
        tables.append(table)
    return tables


def elsewhere(out: ScheduleOut) -> list[str]:
    """Other plans' blocks the write moves or adds: not in the plan's week view, but written
    with it all the same (the preview must show everything it writes)."""
    tz = ZoneInfo(out.timezone)

    def span(start: datetime, end: datetime) -> str:
        return f"{start.astimezone(tz):%a %d} {clock_span(start, end, tz)}"

    lines = []
    for m in out.moves:
        if m.plan_id != out.plan_id:
            to = span(m.to_start, m.to_end) if m.to_start and m.to_end else "off the calendar"
            to = ", ".join([to] + [span(a.start, a.end) for a in m.also_to])
            lines.append(
                f"moves plan {m.plan_id} {m.title}: {span(m.from_start, m.from_end)} -> {to} "
                f"({m.why})"
            )
    lines += [f"adds plan {b.plan_id} {b.title}: {span(b.start, b.end)}" for b in out.placed]
    return lines


def show(
    out: ScheduleOut, busy: list[CalendarEventOut] | None = None, *, writing: bool = False
) -> None:
    """Print the week view, other plans' blocks it moves or adds, what was not placed and
    the warnings."""
    for table in week_view(out, busy, console.width):
        console.print(table)
    for line in elsewhere(out):
        console.print(f"[cyan]also:[/cyan] {escape(line)}")
    for u in out.unplaced:
        console.print(f"[yellow]not placed:[/yellow] {u.title} ({u.task_key}): {u.cause}")
    for w in out.warnings:
        if writing and w.startswith("preview only"):
            continue  # about to be written: saying "nothing was written" would mislead
        console.print(f"[yellow]warning:[/yellow] {w}")
    if out.preferences.applied:
        # "stored": memory was unavailable and a previous run's reading was used.
        how = {"llm": "LLM", "stored": "stored: memory unavailable"}.get(
            out.preferences.source, out.preferences.source
        )
        console.print(f"preferences ({how}): " + "; ".join(out.preferences.applied))
    console.print(f"solver: {out.solver.status} in {out.solver.wall_time_seconds:g} s")


async def _preview(
    settings: Settings, url: str | None, body: ScheduleIn
) -> tuple[ScheduleOut, list[CalendarEventOut]]:
    """The dry run, and the calendar's events in its window (one connection for both)."""
    async with api_client(settings, url) as client:
        response = await client.post(f"{API}/schedule", json=body.model_dump(mode="json"))
        out = ScheduleOut.model_validate(answer(response))
        tz = ZoneInfo(out.timezone)
        params = {
            "start_date": out.window_start.astimezone(tz).date().isoformat(),
            "end_date": (out.window_end.astimezone(tz) - timedelta(seconds=1)).date().isoformat(),
        }
        response = await client.get(f"{API}/calendar", params=params)
        return out, CalendarOut.model_validate(answer(response)).events


def _start(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        typer.echo(f"error: --start: not a date (YYYY-MM-DD): {value!r}", err=True)
        raise typer.Exit(2) from exc


UrlOpt = Annotated[str | None, typer.Option("--url", help="Planner API URL")]


def schedule(
    plan_id: Annotated[int, typer.Argument(help="The plan to place in the calendar")],
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD")] = None,
    days: Annotated[int, typer.Option("--days", help="Horizon in days (1-60)")] = 14,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's answer (a preview unless --yes)")
    ] = False,
    url: UrlOpt = None,
) -> None:
    """Preview a plan's schedule as a week view, then write it to the calendar."""
    body = validated(
        ScheduleIn,
        {"plan_id": plan_id, "start_date": _start(start), "horizon_days": days},
        {"plan_id": "PLAN_ID", "start_date": "--start", "horizon_days": "--days"},
    )

    if as_json and yes:  # nothing is shown before the write: no preview to solve first
        written = run(
            lambda: _schedule(Settings(), url, body.model_copy(update={"dry_run": False}))
        )
        return emit(written.model_dump(mode="json"))

    async def preview() -> tuple[ScheduleOut, list[CalendarEventOut]]:
        return await _preview(Settings(), url, body)

    out, busy = run(preview)
    if as_json:
        return emit(out.model_dump(mode="json"))
    if not yes:
        console.print("[bold]preview[/bold] (nothing is written until you confirm)")
    # The API's "preview only: nothing was written" is the header's, or no longer true once
    # confirmed: printed before "written to builtin: 12 created", it read as a failure.
    show(out, busy, writing=True)
    if not out.blocks:
        console.print("nothing to write")
        return
    if not out.violations and not yes and not _confirmed():
        console.print("not written")
        return

    async def write() -> ScheduleOut:
        # Applying the preview's run writes exactly what was shown (or 409 if the calendar
        # changed meanwhile: then preview again).
        update = {"dry_run": False, "run_id": out.run_id}
        return await _schedule(Settings(), url, body.model_copy(update=update))

    done = run(write)
    if not done.applied:
        console.print("[red]not written:[/red] " + "; ".join(done.violations or done.warnings))
        raise typer.Exit(1)
    if [(b.almanac_id, b.start) for b in done.blocks] != [
        (b.almanac_id, b.start) for b in out.blocks
    ]:
        show(done, busy, writing=True)  # solved again, differently: show what was written
    cal = done.calendar
    if cal is not None:
        console.print(
            f"written to {cal.provider}: {len(cal.created)} created, "
            f"{len(cal.updated)} updated, {len(cal.deleted)} removed"
        )


def _confirmed() -> bool:
    """The user's yes. Input that ends unanswered (a script, a pipe) writes nothing and
    says how to write: it was a bare "Aborted." (exit code 1 still, nothing was done)."""
    try:
        return typer.confirm("Write these blocks to the calendar?")
    except typer.Abort as exc:
        err.print("\nnot written: no answer (the input ended); pass --yes to write without asking")
        raise typer.Exit(1) from exc


def agenda(
    days: Annotated[int, typer.Option("--days", min=1, max=92, help="How many days")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Print the coming days from the calendar: Almanac's blocks and your events."""
    settings = Settings()
    today = datetime.now(ZoneInfo(zone_name())).date()

    async def go() -> CalendarOut:
        last = today + timedelta(days=days - 1)
        params = {"start_date": today.isoformat(), "end_date": last.isoformat()}
        async with api_client(settings, url) as client:
            response = await client.get(f"{API}/calendar", params=params)
            return CalendarOut.model_validate(answer(response))

    out = run(go)
    if as_json:
        return emit(out.model_dump(mode="json"))
    table = Table(title=f"agenda: {days} day(s) from {today:%a %d %b}")
    for col in ("day", "time", "what", "kind", "client"):
        table.add_column(col, overflow="fold")
    tz = ZoneInfo(zone_name())
    for e in out.events:
        start = e.start.astimezone(tz)
        when = clock_span(e.start, e.end, tz, e.all_day)
        kind = "almanac" if e.almanac else ("busy" if e.busy else "free")
        client = "" if e.client_id is None else str(e.client_id)
        table.add_row(f"{start:%a %d %b}", when, e.title, kind, client)
    if not out.events:
        console.print("nothing in the calendar")
        return
    console.print(table)
