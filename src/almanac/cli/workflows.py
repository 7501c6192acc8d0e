"""`almanac workflows import|list`: the workflow library, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from almanac.cli.api import call
from almanac.cli.output import emit
from almanac.ontology.library import LIBRARY_DIR, LibraryError, library_bundle, load_library

workflows_app = typer.Typer(help="The workflow library (Pattern Ontology).", no_args_is_help=True)
console = Console()
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Server URL (default: the server running on this data folder)"),
]


@workflows_app.command("import")
def import_(
    path: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            readable=True,
            help="A .json file or a folder of them (default: the starter library)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """Import workflows and blueprints; re-importing the same files changes nothing."""
    try:
        library = load_library(path)  # validate every file before touching the database
    except LibraryError as exc:
        for e in exc.errors[:50]:
            typer.echo(f"error: {e['field']}: {e['message']}", err=True)
        if len(exc.errors) > 50:
            typer.echo(f"... and {len(exc.errors) - 50} more", err=True)
        raise typer.Exit(2) from exc

    body = library_bundle(library) if path is not None else None
    report = call("POST", "/api/v1/planner/workflows/import", body=body, url=url)
    source = path or LIBRARY_DIR
    if as_json:
        return emit(report)
    w, b = report["workflows"], report["blueprints"]
    console.print(
        f"imported {source}: workflows {w['created']} created, {w['updated']} updated, "
        f"{w['unchanged']} unchanged; blueprints {b['created']} created, "
        f"{b['updated']} updated, {b['unchanged']} unchanged"
    )


@workflows_app.command("list")
def list_(
    capability: Annotated[str | None, typer.Option(help="Only this capability")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Name contains")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """List stored workflows with their task count and total hours."""

    params = {"capability": capability, "q": q, "limit": 500}
    out = call("GET", "/api/v1/planner/workflows", params=params, url=url)
    if as_json:
        return emit(out)
    table = Table(title=f"workflows ({out['total']})")
    for col in ("#", "name", "version", "capability", "tasks", "hours", "parent"):
        table.add_column(col, overflow="fold")
    for wf in out["items"]:
        table.add_row(
            str(wf["id"]),
            wf["name"],
            wf["version"],
            wf.get("capability") or "",
            str(wf["task_count"]),
            f"{wf['total_hours']:g}",
            str(wf.get("parent_workflow_id") or ""),
        )
    console.print(table)
