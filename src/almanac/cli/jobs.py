"""`almanac worker`, `almanac retention run`, `almanac jobs list`."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from almanac.cli.runtime import local_state, run
from almanac.config import Settings

console = Console()
retention_app = typer.Typer(help="Archive and delete old events.", no_args_is_help=True)
jobs_app = typer.Typer(help="The background job queue.", no_args_is_help=True)


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default: jobs.concurrency)")
    ] = None,
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to serve (repeatable)")
    ] = None,
    no_clock: Annotated[
        bool, typer.Option("--no-clock", help="Run jobs only; no periodic jobs here")
    ] = False,
) -> None:
    """Run background jobs and the periodic clock until Ctrl+C."""
    from almanac.background import task_blueprints
    from almanac.jobs.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def go() -> None:
        async with local_state(Settings()) as state:
            await run_worker(
                state, task_blueprints(), concurrency=concurrency, queues=queue, clock=not no_clock
            )

    run(go)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; change nothing")] = False,
    days: Annotated[
        int | None, typer.Option(min=1, help="Age in days (default: jobs.retention_days)")
    ] = None,
) -> None:
    """Archive old events that never became facts to DATA_DIR/retention/, then delete them."""
    from almanac.memory.retention import RetentionReport, run_retention

    async def go() -> RetentionReport:
        async with local_state(Settings()) as state:
            return await run_retention(state, days=days, dry_run=dry_run)

    report = run(go)
    cutoff = report.cutoff.isoformat(timespec="seconds")
    if report.dry_run:
        console.print(
            f"dry run: {report.eligible} events older than {cutoff} would be archived and "
            f"deleted; {report.kept_promoted} promoted to facts would be kept"
        )
        return
    console.print(
        f"{report.deleted} events older than {cutoff} archived and deleted; "
        f"{report.kept_promoted} promoted to facts kept"
    )
    for path in report.files:
        console.print(f"  {path}")


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="todo, doing, succeeded, failed...")] = None,
    task: Annotated[str | None, typer.Option(help="e.g. observer:reflect")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Recent jobs and their status."""
    from almanac.jobs import repository

    if status is not None and status not in repository.STATUSES:
        typer.echo(f"error: status: one of {', '.join(repository.STATUSES)}", err=True)
        raise typer.Exit(2)

    async def go() -> list[Any]:
        async with local_state(Settings()) as state, state.sessionmaker() as session:
            return list(await repository.list_jobs(session, status=status, task=task, limit=limit))

    table = Table(title="jobs")
    for col in ("#", "task", "queue", "status", "attempts", "deferred", "args"):
        table.add_column(col, overflow="fold")
    for job in run(go):
        deferred = job.deferred_at.isoformat(timespec="seconds") if job.deferred_at else ""
        table.add_row(
            str(job.id), job.task, job.queue, job.status, str(job.attempts), deferred, str(job.args)
        )
    console.print(table)
