"""Plan versions from the command line: show a plan, replace a draft's SOP, diff versions.

Each calls one endpoint through `connect.call` (a running server, else in-process),
prints a short line or tree, and prints the API's JSON with `--json`.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from almanac.cli.api import call
from almanac.cli.capabilities import JsonOpt, P, UrlOpt
from almanac.cli.connect import fail
from almanac.cli.files import UnreadableFile, read_input
from almanac.cli.output import emit

# An SOP must fit in a request body (`security.max_body_bytes` is at most 1 GiB, 1 MiB by
# default: a file over 64 MiB is no SOP).
SOP_READ_MAX = 64 * 1024 * 1024


def plan_show(
    plan_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False, url: UrlOpt = None
) -> None:
    """One plan as a tree, with its match and notes."""
    out = call("GET", f"{P}/plans/{plan_id}", url=url)
    if as_json:
        return emit(out)
    from rich.console import Console

    from almanac.cli.planner import plan_tree

    Console().print(plan_tree(out))
    match = out.get("match")
    if match and match.get("chosen"):
        others = ", ".join(f"{a['name']} {a['score']:.2f}" for a in match["alternatives"])
        print(f"matched {match['chosen']['name']} at {match['confidence']:.2f}; next: {others}")
    for note in out.get("notes", []):
        print(f"note: {note}")


def plan_edit(
    plan_id: Annotated[int, typer.Argument()],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON: the new SOP")],
    note: Annotated[str | None, typer.Option(help="Why it changed")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Replace a draft's SOP (from `almanac plan-show ID --json`'s "sop"); a version is kept."""
    try:
        sop = json.loads(read_input(path, SOP_READ_MAX).decode("utf-8"))
    except UnreadableFile as exc:
        raise fail(f"sop: {exc}", 2) from exc
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested too deep
        raise fail(f"sop: not valid JSON ({exc})", 2) from exc
    current = call("GET", f"{P}/plans/{plan_id}", url=url)
    body: dict[str, Any] = {"sop": sop, "version": current["version"]}
    if note is not None:
        body["note"] = note
    out = call("PUT", f"{P}/plans/{plan_id}", body=body, url=url)
    if as_json:
        return emit(out)
    if out["version"] == current["version"]:  # the same plan: no version is made
        print(f"plan {plan_id} unchanged: it already says this (version {out['version']})")
    else:
        print(f"plan {plan_id} is now version {out['version']}")


def plan_diff(
    plan_id: Annotated[int, typer.Argument()],
    old: Annotated[int | None, typer.Argument(help="Version (default: the one before new)")] = None,
    new: Annotated[int | None, typer.Argument(help="Version (default: the latest)")] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """What changed between two versions of a plan, as a unified diff of their SOPs."""
    versions = {v["version"]: v for v in call("GET", f"{P}/plans/{plan_id}/versions", url=url)}
    current = call("GET", f"{P}/plans/{plan_id}", url=url)
    versions.setdefault(current["version"], current)  # the plan row is the latest version
    b = new or max(versions)
    a = old or max([v for v in versions if v < b], default=b)
    if a not in versions or b not in versions:
        raise fail(f"version: plan {plan_id} has versions {sorted(versions)}", 2)

    def lines(v: int) -> list[str]:
        return json.dumps(versions[v]["sop"], indent=2, sort_keys=True).splitlines()

    diff = list(difflib.unified_diff(lines(a), lines(b), f"v{a}", f"v{b}", lineterm=""))
    if as_json:
        return emit({"plan_id": plan_id, "from": a, "to": b, "diff": diff})
    if a == b:
        print(f"plan {plan_id} has only version {a}: nothing to compare (almanac plan-edit)")
    else:
        print("\n".join(diff) if diff else f"versions {a} and {b} have the same SOP")
