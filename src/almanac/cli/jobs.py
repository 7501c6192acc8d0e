"""`almanac worker`, `almanac retention run`, `almanac jobs list`."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer

from almanac.cli.api import call
from almanac.cli.output import emit, local_minute, table
from almanac.cli.recall import JsonOpt, UrlOpt

retention_app = typer.Typer(help="Archive and delete old events.", no_args_is_help=True)
jobs_app = typer.Typer(help="The background job queue.", no_args_is_help=True)


def worker(
    concurrency: Annotated[
        # The bounds of jobs.concurrency: 0 would start a worker that never runs a job.
        int | None,
        typer.Option(min=1, max=64, help="Jobs run at once (default: jobs.concurrency)"),
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
    from almanac.cli.runtime import local_state, run
    from almanac.config import Settings
    from almanac.discovery import write_worker_record
    from almanac.jobs.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def go() -> None:
        async with local_state(Settings()) as state:
            record = write_worker_record(state.settings.data_dir)
            try:
                await run_worker(
                    state,
                    task_blueprints(),
                    concurrency=concurrency,
                    queues=queue,
                    clock=not no_clock,
                )
            finally:
                record.unlink(missing_ok=True)

    run(go)


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; change nothing")] = False,
    days: Annotated[
        int | None, typer.Option(min=1, help="Age in days (default: jobs.retention_days)")
    ] = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Archive old events that never became facts to DATA_DIR/retention/, then delete them.

    Runs in the server when one runs on this data folder (so its cache forgets them too)."""
    body = {"days": days, "dry_run": dry_run}
    report = call("POST", "/api/v1/memory/retention", body=body, url=url, service="memory")
    if as_json:
        return emit(report)
    cutoff = report["cutoff"][:19]
    if report["dry_run"]:
        print(
            f"dry run: {report['eligible']} events older than {cutoff} would be archived and "
            f"deleted; {report['kept_promoted']} promoted to facts would be kept"
        )
        return
    print(
        f"{report['deleted']} events older than {cutoff} archived and deleted; "
        f"{report['kept_promoted']} promoted to facts kept"
    )
    for path in report["files"]:
        print(f"  {path}")


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="todo, doing, succeeded, failed...")] = None,
    task: Annotated[str | None, typer.Option(help="e.g. observer:reflect")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
) -> None:
    """Recent jobs and their status (from the server when one runs)."""
    params = {"status": status, "task": task, "limit": limit}
    jobs = call("GET", "/api/v1/jobs", params=params, url=url)
    if as_json:
        return emit(jobs)
    rows = [
        [
            str(job["id"]),
            job["task"],
            job["queue"],
            job["status"],
            str(job["attempts"]),
            local_minute(job["deferred_at"]),
            json.dumps(job["args"], ensure_ascii=False),
            job["reason"] or "",
        ]
        for job in jobs
    ]
    columns = ["#", "task", "queue", "status", "attempts", "deferred", "args", "reason"]
    table("jobs", columns, rows)
