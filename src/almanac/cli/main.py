"""`almanac`: serve, remember, recall, facts, memory import/export/reindex, db upgrade."""

from __future__ import annotations

import ctypes
import json
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from almanac.cli import planner as planner_cli
from almanac.cli.calendar import calendar_app
from almanac.cli.demo import demo
from almanac.cli.docs import docs_app
from almanac.cli.jobs import jobs_app, retention_app, worker
from almanac.cli.keys import keys_app
from almanac.cli.memory import memory_app
from almanac.cli.runtime import local_state, memory_client, run
from almanac.cli.scheduler import agenda, schedule
from almanac.cli.workflows import workflows_app
from almanac.config import Settings
from almanac.memory.schemas import FactsQuery, RecallQuery, RememberIn

app = typer.Typer(
    help="Almanac: memory, planning, scheduling and reflection.", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(memory_app, name="memory")
app.add_typer(docs_app, name="docs")
app.add_typer(calendar_app, name="calendar")
app.add_typer(workflows_app, name="workflows")
app.command("schedule")(schedule)
app.command("agenda")(agenda)
app.command("demo")(demo)
app.add_typer(retention_app, name="retention")
app.add_typer(jobs_app, name="jobs")
app.add_typer(keys_app, name="keys")
app.command("worker")(worker)
app.command()(planner_cli.plan)
app.command()(planner_cli.plans)
app.command()(planner_cli.approve)
console = Console()

UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Gateway URL (default: a running local server if any)")
]


def _validated(model: Any, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "input"
            typer.echo(f"error: {field}: {e['msg']}", err=True)
        raise typer.Exit(2) from exc


def _limit_malloc_arenas() -> None:
    """Cap glibc's per-thread malloc arenas (default 8 per core), which inflate RSS.

    Database, cache and embedder work runs in worker threads; with a cap of two arenas the
    server stays within its memory budget at no measurable cost in speed.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # -8 is M_ARENA_MAX
        except (OSError, AttributeError):
            pass


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="all (default), memory or planner")] = "all",
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default 8090; planner alone 8091)")
    ] = None,
) -> None:
    """Run the Memory Gateway and the Planner API (together, or one of them)."""
    import uvicorn

    from almanac.app import create_app

    settings = Settings()
    match service:
        case "all":
            services: list[Any] = ["memory", "planner"]
            default_port = settings.server.port
        case "memory":
            services, default_port = ["memory"], settings.server.memory_port
        case "planner":
            services, default_port = ["planner"], settings.server.planner_port
        case _:
            typer.echo("error: service: must be one of all, memory, planner", err=True)
            raise typer.Exit(2)
    _limit_malloc_arenas()
    application = create_app(settings, services=services)
    uvicorn.run(application, host=host or settings.server.host, port=port or default_port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    from almanac.db.migrate import current_revision

    async def go() -> str | None:
        async with local_state(Settings()) as state:
            return await current_revision(state.engine)

    console.print(f"database at revision [bold]{run(go)}[/bold]")


@app.command()
def remember(
    content: Annotated[str, typer.Argument(help="What to remember")],
    session_id: Annotated[str | None, typer.Option("--session")] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    event_type: Annotated[str, typer.Option("--type")] = "memory",
    scope: Annotated[str, typer.Option("--scope")] = "session",
    salience: Annotated[float, typer.Option("--salience")] = 0.5,
    metadata: Annotated[str | None, typer.Option(help="JSON object")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key")] = None,
    url: UrlOpt = None,
) -> None:
    """Store a memory."""
    try:
        meta = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError as exc:
        typer.echo(f"error: metadata: not valid JSON ({exc})", err=True)
        raise typer.Exit(2) from exc
    item = _validated(
        RememberIn,
        {
            "content": content,
            "session_id": session_id,
            "client_id": client_id,
            "event_type": event_type,
            "memory_scope": scope,
            "salience_score": salience,
            "metadata": meta,
            "idempotency_key": key,
        },
    )

    async def go() -> Any:
        async with memory_client(Settings(), url) as client:
            return await client.remember(item)

    out = run(go)
    extra = " (duplicate)" if out.duplicate else ""
    fact = f", promoted to fact {out.promoted_to_fact_id}" if out.promoted_to_fact_id else ""
    console.print(f"remembered #{out.id} in {', '.join(out.stored_in)}{fact}{extra}")


@app.command()
def recall(
    query: Annotated[str, typer.Argument(help="What to look for")],
    k: Annotated[int, typer.Option("-k")] = 10,
    session_id: Annotated[str | None, typer.Option("--session")] = None,
    client_id: Annotated[int | None, typer.Option("--client")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
) -> None:
    """Search memories and facts; prints a table."""
    q = _validated(
        RecallQuery, {"query": query, "k": k, "session_id": session_id, "client_id": client_id}
    )

    async def go() -> Any:
        async with memory_client(Settings(), url) as client:
            return await client.recall(q)

    out = run(go)
    if as_json:
        sys.stdout.write(out.model_dump_json(indent=2) + "\n")
        return
    table = Table(
        title=f"recall: {query!r} ({out.took_ms:.1f} ms{', cached' if out.cached else ''})"
    )
    for col in ("#", "kind", "score", "when", "content"):
        table.add_column(col, overflow="fold")
    for hit in out.results:
        when = hit.occurred_at.strftime("%Y-%m-%d %H:%M") if hit.occurred_at else ""
        table.add_row(str(hit.id), hit.kind, f"{hit.score:.4f}", when, hit.content[:200])
    console.print(table)


@app.command()
def facts(
    subject_type: Annotated[str | None, typer.Option("--subject-type")] = None,
    subject_id: Annotated[str | None, typer.Option("--subject-id")] = None,
    fact_type: Annotated[str | None, typer.Option("--type")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 with offset")] = None,
    history: Annotated[bool, typer.Option("--history")] = False,
    url: UrlOpt = None,
) -> None:
    """List facts (current, as of a time, or with their history)."""
    q = _validated(
        FactsQuery,
        {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "fact_type": fact_type,
            "as_of": as_of,
            "include_history": history,
        },
    )

    async def go() -> Any:
        async with memory_client(Settings(), url) as client:
            return await client.facts(q)

    rows = run(go)
    table = Table(title="facts")
    for col in ("#", "subject", "type", "category", "valid from", "valid to", "content"):
        table.add_column(col, overflow="fold")
    for f in rows:
        table.add_row(
            str(f.id),
            f"{f.subject_type}:{f.subject_id}",
            f.fact_type,
            f.category or "",
            f.valid_from.isoformat(timespec="minutes"),
            f.valid_to.isoformat(timespec="minutes") if f.valid_to else "current",
            f.content,
        )
    console.print(table)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
