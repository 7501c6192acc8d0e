"""`almanac tasks`, `almanac done`, `almanac log`: tasks from the command line, via the API."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from almanac.cli.runtime import answer, api_client, err, run
from almanac.cli.validation import finite
from almanac.cli.when import typed_time, zone_name
from almanac.config import Settings

console = Console()
BASE = "/api/v1/planner/tasks"
HOURS = finite(0.01, 24)
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (default: a running local server if any)")
]


def tasks(
    plan_id: Annotated[int | None, typer.Option("--plan", min=1, help="Only this plan")] = None,
    today: Annotated[
        bool, typer.Option("--today", help="With a block or due today, or in progress")
    ] = False,
    status: Annotated[str | None, typer.Option(help="todo, in_progress, done, cancelled")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """List tasks, the most urgent first."""
    settings = Settings()
    params: dict[str, Any] = {"limit": limit}
    if plan_id is not None:
        params["plan_id"] = plan_id
    if status:
        params["status"] = status
    if today:
        params["on"] = datetime.now(ZoneInfo(zone_name())).date().isoformat()

    async def go() -> Any:
        async with api_client(settings, url) as client:
            names = {"plan_id": "--plan", "status": "--status", "limit": "--limit"}
            out = answer(await client.get(BASE, params=params), names)
            if plan_id is not None and not out["items"]:
                # No tasks of a plan that is not there: said so, as every other command
                # does ("no tasks (plan 999)" read as an empty plan).
                answer(await client.get(f"/api/v1/planner/plans/{plan_id}"), names)
            return out

    out = run(go)
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    if not out["items"]:
        # One line, not a table of headers over nothing (as `schedule` says an empty week).
        which = " for today" if today else ""
        filters = ", ".join(
            f"{name} {value}"
            for name, value in (("plan", plan_id), ("status", status))
            if value is not None
        )
        console.print(f"no tasks{which}" + (f" ({filters})" if filters else ""))
        return
    clients = any(t.get("client_id") is not None for t in out["items"])
    rows = [_cells(t, clients, zone_name()) for t in out["items"]]
    columns = ["id", "plan", *(["client"] if clients else []), "status", "prio", "est h"]
    columns += ["logged h", "due"]
    # Short cells never wrap; the title takes what they leave, and when that is under 20
    # characters (80 columns with a client and a task in progress left 7, and rich cut
    # the rest of each line off) each task is two lines, its title whole on the first.
    fixed = sum(2 + max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns))
    if console.width - fixed < 20:
        _two_lines(f"tasks ({out['total']})", columns, rows)
        return
    table = Table(
        title=f"tasks ({out['total']})", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    for col in columns:
        table.add_column(col, no_wrap=True)
    table.add_column("title", overflow="fold", ratio=1, min_width=20)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _cells(t: dict[str, Any], clients: bool, zone: str) -> list[str]:
    """One task's cells, the title last; the client's only when some task has one."""
    client = ["" if t.get("client_id") is None else str(t["client_id"])] if clients else []
    return [
        str(t["id"]),
        str(t["plan_id"] or ""),
        *client,
        t["status"],
        str(t["priority"]),
        "" if t["estimate_hours"] is None else f"{t['estimate_hours']:g}",
        f"{t['logged_hours']:g}",
        _local(t["deadline"], zone),
        t["title"],
    ]


def _two_lines(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A narrow terminal: "#id title" (wrapped whole), then the other cells by name."""
    console.print(title)
    for row in rows:
        cells = dict(zip(columns, row, strict=False))
        console.print(Text(f"#{cells['id']} {row[-1]}"))
        # The short cells first, so a wrap only ever moves the hours to a second line.
        details = [
            cells["status"],
            f"due {cells['due']}" if cells["due"] else "",
            f"plan {cells['plan']}" if cells["plan"] else "",
            f"client {cells['client']}" if cells.get("client") else "",
            f"prio {cells['prio']}",
            f"{cells['est h'] or '?'} h est, {cells['logged h']} h logged",
        ]
        line = Text(" · ".join(d for d in details if d))
        console.print(Padding(line, (0, 0, 0, 3)))  # wrapped lines keep the indent


def _local(when: str | None, zone: str) -> str:
    """A due time in the user's zone, as every other command shows times (the API sends UTC)."""
    if not when:
        return ""
    return f"{datetime.fromisoformat(when).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _log(
    client_url: str | None, task_id: int, hours: float, at: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"hours": hours}
    if at is not None:
        body["ended_at"] = typed_time(at, "--at")

    async def go() -> Any:
        async with api_client(Settings(), client_url) as client:
            return answer(
                await client.post(f"{BASE}/{task_id}/time", json=body), {"ended_at": "--at"}
            )

    result: dict[str, Any] = run(go)
    return result


def done(
    task_id: Annotated[int, typer.Argument(min=1, help="The task")],
    hours: Annotated[float | None, typer.Option("--hours", min=0.01, max=24, parser=HOURS)] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When it was finished (default now), ISO 8601, without an offset read in "
            "ALMANAC_TIMEZONE, for work recorded after the fact; --hours then end then",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Mark a task done (and record --hours worked); its future blocks are freed."""
    body: dict[str, Any] = {"status": "done"}
    if at is not None:  # the API's `finished_at`: reflections count it done then
        at = typed_time(at, "--at")
        body["finished_at"] = at

    async def go() -> Any:
        async with api_client(Settings(), url) as client:
            response = await client.patch(f"{BASE}/{task_id}", json=body)
            return answer(response, {"finished_at": "--at"})

    # Done first, then the hours (ending when it was finished): the hours recorded first
    # stayed recorded when the finish was refused (--at before work already recorded), and
    # the command run again with another --at recorded them twice. Marked done again, a
    # task is as it was, so running the command again after a refused record is safe.
    out = run(go)
    logged: dict[str, Any] = {}
    if hours is not None:
        try:
            logged = _log(url, task_id, hours, at)
        except typer.Exit:
            err.print(f"task #{task_id} is done; its {hours:g} h were not recorded")
            raise
        out = {**out, "task": logged["task"]}
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    task = out["task"]
    freed = out["released_blocks"] + _count(logged, "freed")
    console.print(
        f"task #{task_id} {task['title']!r} done ({task['logged_hours']:g} h recorded); "
        f"{freed} future block(s) freed"
    )
    _say_pending(out.get("calendar"), logged.get("calendar"))


def _say_pending(*writes: dict[str, Any] | None) -> None:
    """A calendar write queued (the remote calendar down) is not yet in the calendar: say so,
    with the job that will write it (the answer's `calendar.detail`)."""
    for write in writes:
        if write and write.get("pending"):
            typer.echo(f"calendar not updated yet: {write.get('detail') or 'the write is queued'}")
            return


def _count(out: dict[str, Any], change: str) -> int:
    return sum(1 for c in out.get("blocks") or [] if c.get("change") == change)


def log(
    task_id: Annotated[int, typer.Argument(min=1, help="The task")],
    hours: Annotated[float, typer.Argument(min=0.01, max=24, parser=HOURS, help="Hours worked")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When the work ended (default now), ISO 8601, without an offset read in "
            "ALMANAC_TIMEZONE; a record placed in time must not overlap another of the task's",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Record hours worked on a task (creates or extends its execution run)."""
    out = _log(url, task_id, hours, at)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    task = out["task"]
    left = task["remaining_hours"]
    freed, shortened = _count(out, "freed"), _count(out, "shortened")
    console.print(
        f"task #{task_id}: {out['actual_hours']:g} h recorded"
        + ("" if left is None else f", {left:g} h left")
        + (
            f"; future blocks fitted to it: {freed} freed, {shortened} shortened"
            if freed or shortened
            else ""
        )
    )
    _say_pending(out.get("calendar"))
    for warning in out.get("warnings") or []:
        typer.echo(f"warning: {warning}")
