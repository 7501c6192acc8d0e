"""Commands for the rest of the API: runs, reflect, replan, prompts (plan versions:
`cli.plan_versions`, sprints: `cli.sprints`).

Each calls one endpoint through `connect.call` (a running server, else in-process),
prints a short line or table, and prints the API's JSON with `--json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from almanac.cli.api import call, given
from almanac.cli.connect import fail
from almanac.cli.files import UnreadableFile, read_input
from almanac.cli.output import emit, local_minute, table
from almanac.cli.validation import segment
from almanac.cli.when import typed_time
from almanac.clock import day_span

_ZONED = "with an offset, or without one read in ALMANAC_TIMEZONE"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Server URL (default: the server running on this data folder)"),
]
P = "/api/v1/planner"
# What a file may hold: a prompt is at most 50,000 characters (4 bytes each at most in
# UTF-8).
PROMPT_READ_MAX = 4 * 50_000


# -- execution runs ---------------------------------------------------------------------

runs_app = typer.Typer(help="Execution runs: time spent on tasks.", no_args_is_help=True)


def _run_line(r: dict[str, Any]) -> str:
    hours = r.get("actual_hours")
    done = f", {hours:g} h" if hours is not None else ""
    return f"run {r['id']} of task {r.get('task_id')}: {r.get('status')}{done}"


@runs_app.command("start")
def runs_start(
    task_id: Annotated[int, typer.Argument(help="The task worked on")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="When the work started (default now), ISO 8601: " + _ZONED),
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Makes a retry safe")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Start timing a task."""
    body = given(task_id=task_id, started_at=typed_time(at, "--at"), run_identifier=key)
    names = {"task_id": "TASK_ID", "started_at": "--at", "run_identifier": "--key"}
    out = call("POST", f"{P}/execution-runs", body=body, url=url, names=names)
    if as_json:
        emit(out)
        return
    print(_run_line(out))
    for warning in out.get("warnings", []):
        print(f"warning: {warning}")


@runs_app.command("stop")
def runs_stop(
    run_id: Annotated[int, typer.Argument(help="The run to stop")],
    hours: Annotated[
        float | None,
        typer.Option(help="Hours worked (default: the time elapsed, up to 24 h on a task)"),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When the work ended (default now), ISO 8601: " + _ZONED),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Stop a run; its variance against the estimate is computed."""
    body = given(ended_at=typed_time(at, "--at"), actual_hours=hours)
    names = {"ended_at": "--at", "actual_hours": "--hours"}
    out = call("POST", f"{P}/execution-runs/{run_id}/stop", body=body, url=url, names=names)
    if as_json:
        return emit(out)
    print(_run_line(out))
    task_id = out.get("task_id")
    task = call("GET", f"{P}/tasks/{task_id}", url=url, optional=True) if task_id else None
    if task and task.get("status") in ("todo", "in_progress"):
        # Learning reads a task's hours once it is done: say how, while it is in mind.
        print(
            f"task {task_id} is {task['status'].replace('_', ' ')}: `almanac done {task_id}` "
            "when it is finished (its hours then teach the estimates)"
        )


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Recent execution runs, newest first."""
    out = call("GET", f"{P}/execution-runs", params={"limit": limit}, url=url)
    if as_json:
        return emit(out)
    rows = [
        [
            str(r["id"]),
            str(r.get("task_id") or ""),
            r.get("status") or "",
            f"{r['estimated_hours']:g}" if r.get("estimated_hours") is not None else "",
            f"{r['actual_hours']:g}" if r.get("actual_hours") is not None else "",
            local_minute(r.get("started_at")),
        ]
        for r in out["items"]
    ]
    table(f"runs ({out['total']})", ["id", "task", "status", "est h", "actual h", "started"], rows)


# -- reflections --------------------------------------------------------------------------


def reflect(
    mode: Annotated[str, typer.Option(help="daily or weekly")] = "daily",
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today)")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Reflect on a day or a week: estimates against reality, and recommendations."""
    out = call("POST", "/api/v1/observer/reflect", params={"mode": mode, "date": day}, url=url)
    if as_json:
        return emit(out)
    print("\n".join(reflection_lines(out)))


def reflection_lines(out: dict[str, Any]) -> list[str]:
    """A reflection as a reader wants it: the numbers, the billable share, the advice."""
    report = out.get("report") or {}
    start, end = out.get("period_start"), out.get("period_end")
    span = start if start == end else f"{start} to {end}"
    lines = [f"{out.get('mode')} reflection {out.get('id')} for {span}"]
    if n := report.get("numbers"):
        lines.append(
            f"tasks: {n['tasks_planned']} planned, {n['tasks_done']} done; "
            f"hours: {n['hours_estimated']:g} estimated for the tasks planned, "
            f"{n['hours_actual']:g} worked"
        )
        if measured := n.get("done_tasks_measured"):
            lines.append(
                f"done with hours recorded: {measured} task(s), estimated "
                f"{n['done_hours_estimated']:g} h, took {n['done_hours_worked']:g} h"
            )
        if b := n.get("blocks"):
            lines.append(
                f"blocks: {b['kept']} kept, {b['moved']} moved, {b['missed']} missed, "
                f"{b['upcoming']} upcoming"
            )
    bill = report.get("billable") or {}
    if bill.get("share_pct") is not None:
        target = bill.get("target_pct")
        lines.append(
            f"billable: {bill['billable_hours']:g} of {bill['worked_hours']:g} h worked = "
            f"{bill['share_pct']:g}%" + ("" if target is None else f" (target {target:g}%)")
        )
    llm = out.get("llm") or report.get("llm") or {}
    if not llm.get("used") and llm.get("detail"):
        lines.append(f"note: {llm['detail']}")
    if out.get("narrative"):
        lines += ["", str(out["narrative"]), ""]
    recommendations = report.get("recommendations") or []
    lines += [f"- {r}" for r in recommendations] or ["no recommendations"]
    return lines


# -- replan -------------------------------------------------------------------------------


def replan(
    plan_id: Annotated[int, typer.Argument(help="A scheduled plan")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the run)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Write it (default: preview)")] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Re-optimise the whole calendar, not just repair it")
    ] = False,
    run: Annotated[
        int | None,
        typer.Option(
            "--run", help="With --yes: write exactly this preview (409 if the calendar changed)"
        ),
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Re-place a scheduled plan around what changed, moving as little as possible."""
    if run is not None and not yes:
        raise fail("--run writes a preview: add --yes", 2)
    body = given(plan_id=plan_id, reason=reason, dry_run=not yes, run_id=run)
    if full:
        body["scope"] = "full"
    names = {"run_id": "--run", "scope": "--full"}
    out = call("POST", "/api/v1/scheduler/replan", body=body, url=url, names=names)
    if as_json:
        return emit(out)
    moved = float(out.get("moved_share") or 0.0)
    # --yes alone solves again and may write something else than a preview shown before;
    # --run writes that preview as it was shown.
    again = f"--yes --run {out.get('run_id')}"
    state = "written" if yes and out.get("applied") else f"preview (add {again} to write it)"
    if out.get("replayed"):
        state = f"already written (run {out.get('run_id')}); nothing written now"
    # The share is of every plan's blocks (a replan may move others'), not of this plan's.
    of = int(out.get("moved_of") or 0)
    share = f"{round(moved * of)} of {of} blocks of all plans moved" if of else f"{moved:.0%} moved"
    print(f"plan {plan_id}: {len(out.get('blocks', []))} blocks; {share}; {state}")
    # What moves (any plan's block) and what other plans gain: the preview is what is written.
    zone = str(out.get("timezone") or "UTC")
    for m in out.get("moves", []):
        to = day_span(m["to_start"], m.get("to_end"), zone) if m.get("to_start") else None
        if to is not None:  # split: where the rest of its hours go
            to = ", ".join(
                [to] + [day_span(a["start"], a["end"], zone) for a in m.get("also_to", [])]
            )
        was = day_span(m["from_start"], m.get("from_end"), zone)
        print(
            f"moves plan {m['plan_id']} {m['title']}: {was} -> {to or 'off the calendar'} "
            f"({m['why']})"
        )
    for b in out.get("placed", []):
        print(f"adds plan {b['plan_id']} {b['title']}: {day_span(b['start'], b['end'], zone)}")
    for warning in out.get("warnings", []):
        print(f"warning: {warning}")


# -- prompts ------------------------------------------------------------------------------

prompts_app = typer.Typer(help="Versioned prompt templates.", no_args_is_help=True)


@prompts_app.command("list")
def prompts_list(as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Every prompt with its active version."""
    out = call("GET", f"{P}/prompts", url=url)
    if as_json:
        return emit(out)
    rows = [[p["template_name"], p["template_type"], p["active_version"]] for p in out]
    table("prompts", ["name", "type", "active version"], rows)


@prompts_app.command("new")
def prompts_new(
    name: Annotated[str, typer.Argument()],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The text")],
    activate: Annotated[bool, typer.Option(help="Make it the active version")] = False,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Add a version of a prompt from a file."""
    try:
        content = read_input(path, PROMPT_READ_MAX).decode("utf-8")
    except UnreadableFile as exc:
        raise fail(f"content: {exc}", 2) from exc
    except UnicodeDecodeError as exc:
        raise fail(f"content: {path} is not UTF-8 text ({exc.reason})", 2) from exc
    body = {"content": content, "activate": activate}
    out = call("POST", f"{P}/prompts/{segment(name, 'NAME')}/versions", body=body, url=url)
    if as_json:
        return emit(out)
    print(f"{name} {out['version']}{' (active)' if out.get('is_active') else ''}")


@prompts_app.command("activate")
def prompts_activate(
    name: Annotated[str, typer.Argument()],
    version: Annotated[str, typer.Argument(help="e.g. v2")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Make a version the active one."""
    at = f"{P}/prompts/{segment(name, 'NAME')}/versions/{segment(version, 'VERSION')}"
    out = call("POST", f"{at}/activate", url=url)
    emit(out) if as_json else print(f"{name} {out['version']} is active")
