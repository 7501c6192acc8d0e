"""`almanac serve` and `almanac db upgrade`."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


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


def serve(
    service: Annotated[str, typer.Argument(help="all (default), memory or planner")] = "all",
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[
        int | None,
        # Bounded here: -1 or 99999 reached uvicorn after the database had started, and
        # the server hung instead of exiting.
        typer.Option(min=1, max=65535, help="Port (default 8090; planner alone 8091)"),
    ] = None,
) -> None:
    """Run the Memory Gateway and the Planner API (together, or one of them).

    With no key yet, the first start writes an admin key to <data folder>/api-key."""
    import uvicorn

    from almanac.app import create_app
    from almanac.config import Settings
    from almanac.discovery import remove_record, write_record

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
    bind_host, bind_port = host or settings.server.host, port or default_port
    _refuse_a_busy_port(bind_host, bind_port)
    _preflight(settings)
    _limit_malloc_arenas()

    class RecordedServer(uvicorn.Server):
        """Records where it listens in the data folder once the socket is bound."""

        record: Path | None = None

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                self.record = write_record(
                    settings.data_dir, bind_host, bind_port, services, settings.timezone
                )

        async def shutdown(self, sockets: Any = None) -> None:
            if self.record is not None:
                remove_record(self.record)
            await super().shutdown(sockets)

    application = create_app(settings, services=services)
    config = uvicorn.Config(application, host=bind_host, port=bind_port)
    RecordedServer(config).run()


@db_app.command("upgrade")
def db_upgrade(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Apply all database migrations."""
    import json

    from rich.console import Console

    from almanac.cli.runtime import local_state, run
    from almanac.config import Settings
    from almanac.db.migrate import current_revision

    async def go() -> str | None:
        async with local_state(Settings()) as state:
            return await current_revision(state.engine)

    revision = run(go)
    if as_json:
        typer.echo(json.dumps({"revision": revision}))
        return
    Console().print(f"database at revision [bold]{revision}[/bold]")


def _refuse_a_busy_port(host: str, port: int) -> None:
    """A port another process listens on stops here, before the database starts: uvicorn
    found it only after start-up, logged the error and then hung instead of exiting."""
    import asyncio

    async def bind() -> None:
        # Bound as uvicorn binds (asyncio's create_server): every address the host resolves
        # to ("" and "localhost" can be two), IPv6 ones v6-only. A probe of the first
        # address alone passed a port busy on the second, and uvicorn hung on it.
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, host, port, start_serving=False)
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(bind())
    except OSError as exc:
        typer.echo(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc} (another server "
            "there? choose one with --port or ALMANAC_SERVER__PORT)",
            err=True,
        )
        raise typer.Exit(1) from exc


def _preflight(settings: Any) -> None:
    """A data folder or an external database that cannot work stops here with what to do,
    not a traceback from the app's start."""
    try:  # as the embedded Postgres would make it; keys and the feed token live there too
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        typer.echo(
            f"error: ALMANAC_DATA_DIR: cannot use {settings.data_dir} as the data folder: "
            f"{exc.strerror or exc}",
            err=True,
        )
        raise typer.Exit(2) from None
    url = settings.effective_database_url
    if url is None:
        return
    from almanac.cli.runtime import run
    from almanac.db.engine import create_engine
    from almanac.db.migrate import check_database

    async def check() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            await check_database(engine)
        finally:
            await engine.dispose()

    run(check)  # prints the message and exits 1 on an AlmanacError
