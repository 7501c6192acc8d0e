"""`almanac workflows import|list`: the workflow library, run in-process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from almanac.cli.runtime import local_state, run
from almanac.config import Settings
from almanac.db.uow import UnitOfWork
from almanac.ontology.library import (
    LIBRARY_DIR,
    ImportReport,
    LibraryError,
    import_library,
    load_library,
)
from almanac.ontology.schemas import WorkflowList
from almanac.ontology.service import OntologyService

workflows_app = typer.Typer(help="The workflow library (Pattern Ontology).", no_args_is_help=True)
console = Console()


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

    async def go() -> ImportReport:
        async with local_state(Settings()) as state, state.sessionmaker() as session:
            uow = UnitOfWork(session)
            try:
                report = await import_library(uow, library=library)
            except BaseException:
                await uow.rollback()
                raise
            await uow.commit()
            return report

    report = run(go)
    source = path or LIBRARY_DIR
    w, b = report.workflows, report.blueprints
    console.print(
        f"imported {source}: workflows {w.created} created, {w.updated} updated, "
        f"{w.unchanged} unchanged; blueprints {b.created} created, {b.updated} updated, "
        f"{b.unchanged} unchanged"
    )


@workflows_app.command("list")
def list_(
    capability: Annotated[str | None, typer.Option(help="Only this capability")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Name contains")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored workflows with their task count and total hours."""

    async def go() -> WorkflowList:
        async with local_state(Settings()) as state, state.sessionmaker() as session:
            uow = UnitOfWork(session)
            try:
                return await OntologyService(uow).list_workflows(
                    capability=capability, parent_workflow_id=None, q=q, limit=500, offset=0
                )
            finally:
                await uow.rollback()  # read-only

    out = run(go)
    if as_json:
        sys.stdout.write(json.dumps(out.model_dump(mode="json"), indent=2) + "\n")
        return
    table = Table(title=f"workflows ({out.total})")
    for col in ("#", "name", "version", "capability", "tasks", "hours", "parent"):
        table.add_column(col, overflow="fold")
    for wf in out.items:
        table.add_row(
            str(wf.id),
            wf.name,
            wf.version,
            wf.capability or "",
            str(wf.task_count),
            f"{wf.total_hours:g}",
            str(wf.parent_workflow_id or ""),
        )
    console.print(table)
