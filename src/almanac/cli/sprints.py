"""`almanac sprints`: a week's capacity and billable target (add, list, show, set, rm).

Each calls one endpoint through `connect.call` and prints a short line, or the API's JSON
with `--json`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from almanac.cli.api import call, given
from almanac.cli.capabilities import JsonOpt, UrlOpt
from almanac.cli.connect import fail
from almanac.cli.output import emit, table

S = "/api/v1/scheduler/sprints"
# The API's fields by the options that set them, for its messages.
NAMES = {
    "week_start": "WEEK_START",
    "capacity_hrs": "--capacity",
    "billable_target_pct": "--target",
    "runway_weeks": "--runway",
    "sprint_id": "SPRINT_ID",
}
SprintId = Annotated[int, typer.Argument(min=1, help="The sprint's id (from `sprints list`)")]


sprints_app = typer.Typer(help="Weekly capacity and billable target.", no_args_is_help=True)


@sprints_app.command("add")
def sprints_add(
    week_start: Annotated[str, typer.Argument(help="The Monday, YYYY-MM-DD")],
    capacity: Annotated[float, typer.Option(help="Hours available that week")],
    target: Annotated[
        float | None, typer.Option(help="Billable share target, % (default 60)")
    ] = None,
    runway: Annotated[float | None, typer.Option(help="Runway in weeks")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Create a sprint."""
    body = given(
        week_start=week_start,
        capacity_hrs=capacity,
        billable_target_pct=target,
        runway_weeks=runway,
    )
    out = call("POST", S, body=body, url=url, names=NAMES)
    if as_json:
        return emit(out)
    print(f"sprint {out['id']} for the week of {out['week_start']}")
    # The week may already hold more than the capacity: say so now, not at `sprints show`
    # (the report reads the calendar; when it cannot, the sprint is made all the same).
    report = call("GET", f"{S}/{out['id']}", url=url, optional=True)
    warnings = (report or {}).get("warnings", [])
    for warning in warnings:
        print(f"warning: {warning}")
    if any(w.startswith("capacity exceeded") for w in warnings):
        plans = ", ".join(f"almanac replan {p} --full" for p in report.get("plan_ids", []))
        print(f"to fit the capacity, replan the week's plans: {plans}")


@sprints_app.command("list")
def sprints_list(as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """All sprints."""
    out = call("GET", S, url=url)
    if as_json:
        return emit(out)
    rows = [
        [str(s["id"]), s["week_start"], f"{s['capacity_hrs']:g}", f"{s['billable_target_pct']:g}%"]
        for s in out
    ]
    table("sprints", ["id", "week", "capacity h", "billable target"], rows)


@sprints_app.command("show")
def sprints_show(sprint_id: SprintId, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """A sprint's use: hours scheduled and worked, each with its billable share, warnings."""
    out = call("GET", f"{S}/{sprint_id}", url=url, names=NAMES)
    if as_json:
        return emit(out)
    share = out.get("billable_share_pct")
    print(
        f"sprint {out['id']} (week of {out['week_start']}): {out['used_hours']:g} of "
        f"{out['capacity_hrs']:g} h scheduled, billable {out['billable_hours']:g} h"
        + (f" = {share:g}% of the hours scheduled" if share is not None else "")
        + f" (target {out['billable_target_pct']:g}%)"
    )
    worked, worked_share = out.get("worked_hours", 0), out.get("worked_billable_share_pct")
    print(
        f"worked (logged) {worked:g} h, billable {out.get('worked_billable_hours', 0):g} h"
        + (f" = {worked_share:g}% of the hours worked" if worked_share is not None else "")
    )
    for warning in out.get("warnings", []):
        print(f"warning: {warning}")


@sprints_app.command("set")
def sprints_set(
    sprint_id: SprintId,
    capacity: Annotated[float | None, typer.Option(help="Hours available that week")] = None,
    target: Annotated[float | None, typer.Option(help="Billable share target, %")] = None,
    runway: Annotated[float | None, typer.Option(help="Runway in weeks")] = None,
    no_runway: Annotated[bool, typer.Option("--no-runway", help="Clear the runway")] = False,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Change a sprint: only the options given change."""
    if runway is not None and no_runway:
        raise fail("--runway and --no-runway: give one of them", 2)
    body: dict[str, Any] = given(capacity_hrs=capacity, billable_target_pct=target)
    if runway is not None or no_runway:
        body["runway_weeks"] = runway  # None clears it
    if not body:
        raise fail("nothing to change: give --capacity, --target, --runway or --no-runway", 2)
    out = call("PUT", f"{S}/{sprint_id}", body=body, url=url, names=NAMES)
    if as_json:
        return emit(out)
    runway_text = "" if out["runway_weeks"] is None else f", runway {out['runway_weeks']:g} weeks"
    print(
        f"sprint {out['id']} (week of {out['week_start']}): {out['capacity_hrs']:g} h, "
        f"billable target {out['billable_target_pct']:g}%{runway_text}"
    )


@sprints_app.command("rm")
def sprints_rm(sprint_id: SprintId, as_json: JsonOpt = False, url: UrlOpt = None) -> None:
    """Delete a sprint (its week's plans and blocks stay)."""
    call("DELETE", f"{S}/{sprint_id}", url=url, names=NAMES)
    if as_json:
        return emit({"id": sprint_id, "deleted": True})
    print(f"sprint {sprint_id} deleted")
