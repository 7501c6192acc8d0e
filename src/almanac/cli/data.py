"""`almanac export|import` (JSONL, see almanac.backup.export) and `almanac backup|restore`
(pg_dump / pg_restore of the whole database).

Export and backup read a consistent snapshot and may run beside a server. Import and
restore write; they refuse while a server runs on the data folder (its cache would go
stale), and say so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from almanac.cli.connect import fail
from almanac.cli.output import emit
from almanac.cli.validation import output_file
from almanac.config import Settings
from almanac.db.uow import unit_of_work

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
SUMMARY_HELP = "Print the summary as JSON (on stderr when the export itself goes to stdout)"


def _refuse_if_served(settings: Settings, what: str) -> None:
    from almanac.discovery import find_record, live_workers

    for service in ("memory", "planner"):
        record = find_record(settings.data_dir, service)
        if record is not None and record.alive():
            raise fail(
                f"a server (pid {record.pid}, {record.url}) runs on {settings.data_dir}; "
                f"stop it before {what}, so that nothing is written behind its back",
                1,
            )
    for pid in live_workers(settings.data_dir):
        raise fail(
            f"a job worker (almanac worker, pid {pid}) runs on {settings.data_dir}; stop it "
            f"before {what}, so that nothing is written behind its back",
            1,
        )


@asynccontextmanager
async def _database_url(settings: Settings) -> AsyncIterator[str]:
    """The configured Postgres, or the embedded one (started if needed, stopped after)."""
    url = settings.effective_database_url
    if url is not None:
        yield url
        return
    from almanac.db.embedded import start_embedded

    embedded = await start_embedded(
        settings.data_dir, shared_buffers_mb=settings.database.embedded_shared_buffers_mb
    )
    try:
        yield embedded.url
    finally:
        embedded.stop()


def export(
    path: Annotated[Path | None, typer.Argument(help="Output file (default: stdout)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=SUMMARY_HELP)] = False,
) -> None:
    """Write everything you own (memories, facts with history, documents, plans with
    versions, tasks, workflows, blueprints, runs, reflections, calendar, prompts, sprints)
    as JSONL."""
    from almanac.backup.export import export_all
    from almanac.backup.files import written
    from almanac.cli.runtime import local_state, run
    from almanac.db.migrate import current_revision
    from almanac.errors import AlmanacError

    if path is not None:
        output_file(path)

    async def go() -> dict[str, int]:
        async with local_state(Settings()) as state:
            schema = await current_revision(state.engine)
            if path is None:
                return await export_all(state, sys.stdout, schema)
            try:
                with written(path) as fh:
                    return await export_all(state, fh, schema)
            except OSError as exc:  # a folder, a missing folder, no permission, a full disk
                raise AlmanacError(f"cannot write {path}: {exc.strerror or exc}") from exc

    counts = run(go)
    if as_json:  # on stderr when stdout carries the export itself
        out = {"path": str(path) if path else None, "rows": counts}
        typer.echo(json.dumps(out), err=path is None)
        return
    total = sum(counts.values())
    sys.stderr.write(f"exported {total} rows from {len(counts)} tables\n")


def import_(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An export file")],
    as_json: JsonOpt = False,
) -> None:
    """Import an export; rows keep their ids, and importing the same file again adds nothing."""
    from almanac.backup.export import ImportReport, import_all, read_export
    from almanac.cli.runtime import run
    from almanac.db.migrate import known_revisions
    from almanac.errors import AlmanacError
    from almanac.memory.maintenance import reindex

    settings = Settings()
    _refuse_if_served(settings, "importing")
    try:
        header, rows = read_export(path)  # the whole file is checked before any write
    except AlmanacError as exc:
        raise fail(exc.message, 2) from exc
    schema = header.get("schema")
    if isinstance(schema, str) and schema not in known_revisions():
        # A newer Almanac's file showed only as "unknown columns" of some table.
        raise fail(
            f"{path} was exported from a database at schema {schema!r}, which this version "
            "of Almanac does not know (a newer one wrote it): upgrade Almanac, then import",
            2,
        )
    # The file brings its own workflows (with their ids): do not add the library first.
    settings.planner.starter_library = False

    async def go() -> ImportReport:
        from almanac.startup import open_state

        state = await open_state(settings)
        try:
            async with unit_of_work(state.sessionmaker) as uow:
                report = await import_all(uow, rows)
            await reindex(state, 256, lambda _n: None)  # embeddings, and the cache bumped
            return report
        finally:
            await state.close()

    report = run(go)
    if as_json:
        return emit({"inserted": report.inserted, "present": report.present})
    added = sum(report.inserted.values())
    present = sum(report.present.values())
    detail = ", ".join(f"{t} {n}" for t, n in report.inserted.items() if n)
    print(f"imported {added} rows ({present} already present){': ' + detail if detail else ''}")


def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (pg_dump format)")],
    as_json: JsonOpt = False,
) -> None:
    """A consistent backup of the whole database with pg_dump (safe while the server runs)."""
    from almanac.backup.pgdump import backup as dump
    from almanac.cli.runtime import run

    output_file(path, parents_made=True)  # pg_dump's folder is made when missing

    async def go() -> None:
        async with _database_url(Settings()) as url:
            await dump(url, path)

    run(go)
    size = path.stat().st_size
    if as_json:
        return emit({"path": str(path), "bytes": size})
    print(f"backed up the database to {path} ({size:,} bytes)")


def restore(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A backup file")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the current data")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the database with a backup (pg_restore, all or nothing)."""
    from almanac.backup.pgdump import restore as put_back
    from almanac.cli.runtime import run

    settings = Settings()
    _refuse_if_served(settings, "restoring")
    if not yes:
        raise fail("restore replaces everything in the database; add --yes to go ahead", 2)

    async def go() -> Any:
        from almanac.auth.bootstrap import rekey_restored
        from almanac.db.engine import create_engine, create_sessionmaker

        async with _database_url(settings) as url:
            await put_back(url, path)
            engine = create_engine(url, pool_size=1)
            try:
                return await rekey_restored(create_sessionmaker(engine), settings.data_dir)
            finally:
                await engine.dispose()

    rekeyed = run(go)
    if as_json:
        return emit({"restored": str(path), "new_admin_key": rekeyed.name if rekeyed else None})
    url = settings.effective_database_url
    print(f"restored {path} into {_shown(url) if url else settings.data_dir}")
    if rekeyed is not None:
        print(
            f"the backup did not know this data folder's API key: made admin key "
            f"{rekeyed.name!r} and wrote it to {settings.data_dir / 'api-key'}, which the "
            "CLI and almanac mcp use; keys made elsewhere stay as the backup has them"
        )


def _shown(url: str) -> str:
    """A database URL without its password, read as the engine reads it (a password may
    hold `/` or `#`, which `redact.mask_url` would leave)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
