"""`almanac plan`, `almanac plans`, `almanac approve`: planning from the terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from almanac.cli.api import given
from almanac.cli.output import local_minute
from almanac.cli.runtime import answer, api_client, err, run
from almanac.cli.validation import finite
from almanac.cli.when import window_bound, zone_name
from almanac.config import Settings
from almanac.errors import AlmanacError

console = Console()
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="API URL (default: a running local server if any)")
]


def _hours(value: float) -> str:
    return f"{value:g} h"


def plan_tree(plan: dict[str, Any]) -> Tree:
    """A plan as a readable tree: steps, then tasks with estimate, dependencies and flags."""
    head = f"[bold]{plan['plan_title']}[/bold]  #{plan['id']} · {plan['status']} · "
    head += _hours(plan["total_hours"])
    tree = Tree(head)
    calibrated = {c["task_id"]: c for c in plan.get("calibration", [])}
    ranges = {e["task_id"]: e for e in plan.get("estimates", [])}
    if plan.get("sop_error"):
        tree.add(f"[red]{plan['sop_error']}[/red]")
    for step in (plan["sop"] or {"steps": []})["steps"]:
        hours = sum(t["estimate_hours"] for t in step["tasks"])
        branch = tree.add(f"[cyan]{step['title']}[/cyan] ({_hours(hours)})")
        for task in step["tasks"]:
            line = f"{task['id']}: {task['title']} · {_hours(task['estimate_hours'])}"
            if task["id"] in ranges:
                e = ranges[task["id"]]
                line += f" [dim](80%: {e['low_hours']:g}-{e['high_hours']:g})[/dim]"
            if task["id"] in calibrated:
                line += f" [yellow](was {_hours(calibrated[task['id']]['from_hours'])})[/yellow]"
            if task.get("billable"):
                line += " · billable"
            if task.get("depends_on"):
                line += f" · after {', '.join(task['depends_on'])}"
            branch.add(line)
    return tree


def _print_notes(plan: dict[str, Any]) -> None:
    for note in plan.get("notes", []):
        console.print(f"[dim]note:[/dim] {note}")
    for change in plan.get("calibration", []):
        console.print(f"[dim]calibrated {change['task_id']}:[/dim] {change['reason']}")
    if plan.get("degraded"):
        console.print(f"[yellow]degraded:[/yellow] {', '.join(plan['degraded'])}")


# A refusal names the option given, not the API's field ("client_id: …" for --client -5).
_PLAN_OPTIONS = {
    "client_id": "--client",
    "engagement_id": "--engagement",
    "workflow_id": "--workflow",
    "deadline": "--deadline",
    "context": "--context",
    "estimates": "--estimates",
    "idempotency_key": "--key",
}


def plan(
    intent: Annotated[str, typer.Argument(help="What you want to get done")],
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    engagement_id: Annotated[int | None, typer.Option("--engagement")] = None,
    workflow_id: Annotated[int | None, typer.Option("--workflow")] = None,
    deadline: Annotated[
        str | None,
        typer.Option(
            help="A date (due by its end) or a time; without an offset, on ALMANAC_TIMEZONE's clock"
        ),
    ] = None,
    context: Annotated[str | None, typer.Option(help="Anything the plan should know")] = None,
    estimates: Annotated[
        str | None, typer.Option(help="calibrated (learnt from past runs) or library")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Idempotency key: run again with it, get the same plan"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1,
            max=3600,
            parser=finite(1, 3600),
            help="Seconds to wait, 1-3600 (default: the planning budget plus a margin)",
        ),
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Turn an intent into a draft plan and print it as a tree."""
    settings = Settings()
    zone_used = False
    if deadline is not None:
        # "--deadline 2026-12-09" is due by the end of that day on the user's clock.
        deadline, zone_used = window_bound(deadline, zone_name(), "--deadline", end=True)
    body = given(
        intent=intent,
        client_id=client_id,
        engagement_id=engagement_id,
        workflow_id=workflow_id,
        deadline=deadline,
        context=context,
        estimates=estimates,
        idempotency_key=key,
    )
    if zone_used:
        due = datetime.fromisoformat(str(deadline))
        err.print(f"note: --deadline read as {due:%Y-%m-%d %H:%M} {zone_name()} (ALMANAC_TIMEZONE)")
    budget = settings.llm.budget_seconds.get("planning")
    # The server answers within its budget (then falls back to the library): wait for that,
    # plus recall, storing and the network, so the plan it makes is never lost to us.
    wait = timeout or max(60.0, (budget or 60.0) + 60.0)

    async def go() -> Any:
        async with api_client(settings, url, timeout=wait) as client:
            with err.status(f"planning… (waiting up to {wait:g} s)", spinner="dots"):
                response = await client.post("/api/v1/planner/plan", json=body)
        if response.status_code == 422:
            try:
                problem = response.json()
            except ValueError:
                problem = None  # not JSON: `answer` reports it
            _no_match_in_cli_terms(problem)
        return answer(response, _PLAN_OPTIONS)

    out = run(go)
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(plan_tree(out))
    _print_notes(out)
    console.print(f"approve with: [bold]almanac approve {out['id']}[/bold]")


def _no_match_in_cli_terms(problem: Any) -> None:
    """The API's no-match problem names REST fields (`workflow_id`, POST .../workflows);
    raised again in the CLI's own terms. Any other problem is left to `answer`."""
    errors = problem.get("errors") if isinstance(problem, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict) or first.get("field") != "intent" or "closest" not in first:
        return
    near = [c for c in first["closest"] if isinstance(c, dict)]
    if near:
        names = ", ".join(
            f"{c.get('name')!r} (--workflow {c.get('id')}, {float(c.get('score') or 0):.2f})"
            if c.get("kind") == "workflow"
            else f"{c.get('name')!r} ({float(c.get('score') or 0):.2f})"
            for c in near
        )
        hint = f" The closest were {names}, below the match threshold {first.get('threshold')}."
    else:
        hint = " The workflow library is empty."
    raise AlmanacError(
        "No workflow in the library matches this intent and no LLM is configured."
        + hint
        + " Name one with --workflow ID (`almanac workflows list`), add your own with "
        "`almanac workflows import DIR`, or configure an LLM (ALMANAC_LLM__PROVIDER=openai "
        "with ALMANAC_LLM__BASE_URL and ALMANAC_LLM__MODEL).",
        422,
    )


def plans(
    status: Annotated[str | None, typer.Option(help="draft, approved, scheduled, ...")] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """List plans, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if client_id is not None:
        params["client_id"] = client_id

    async def go() -> Any:
        async with api_client(Settings(), url) as client:
            names = {"status": "--status", "client_id": "--client", "limit": "--limit"}
            return answer(await client.get("/api/v1/planner/plans", params=params), names)

    out = run(go)
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    table = Table(title=f"plans ({out['total']})")
    for col in ("#", "status", "client", "hours", "source", "created", "title"):
        table.add_column(col, overflow="fold")
    for p in out["items"]:
        table.add_row(
            str(p["id"]),
            p["status"],
            "" if p.get("client_id") is None else str(p["client_id"]),
            f"{p['total_hours']:g}",
            p.get("source") or "",
            local_minute(p["created_at"]),
            p["plan_title"],
        )
    console.print(table)


def approve(
    plan_id: Annotated[int, typer.Argument(min=1, help="The plan to approve")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """Approve a draft plan: it becomes a process template with tasks, ready to schedule."""

    async def go() -> Any:
        async with api_client(Settings(), url) as client:
            return answer(await client.post(f"/api/v1/planner/plans/{plan_id}/approve"))

    out = run(go)
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(
        f"plan #{plan_id} approved: process template #{out['process_template_id']}, "
        f"{len(out['task_ids'])} tasks"
    )
    for t in out.get("tasks", []):
        console.print(f"  task #{t['id']} {t['key']}: {t['title']}")
    console.print(f"schedule with: [bold]almanac schedule {plan_id}[/bold]")
