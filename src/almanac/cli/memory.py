"""`almanac memory import|export|reindex`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from almanac.cli.data import SUMMARY_HELP
from almanac.cli.runtime import local_state, memory_client, run
from almanac.cli.validation import error_lines, output_file
from almanac.config import Settings
from almanac.errors import AlmanacError, ValidationFailed
from almanac.memory.maintenance import export_events, reindex
from almanac.memory.promotion import promotable
from almanac.memory.schemas import RememberIn


def summary(data: dict[str, Any], to_stderr: bool) -> None:
    """The command's result as one JSON object; stderr when stdout carries the data."""
    typer.echo(json.dumps(data), err=to_stderr)


memory_app = typer.Typer(help="Bulk memory operations.", no_args_is_help=True)
console = Console(stderr=True)
_BATCH = 500


def _read_jsonl(path: Path, threshold: float) -> list[RememberIn]:
    """Parse and validate every line first, so a bad file writes nothing (a memory salient
    enough to become a fact, at `threshold`, is checked as one: the Gateway's refusal of a
    batch named no line)."""
    items: list[RememberIn] = []
    errors: list[str] = []
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    # Lines are decoded one by one, so a file that is not UTF-8 is a line's error.
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("each line must be a JSON object")
                if number == 1 and data.get("format") == "almanac-export":
                    # A whole export (`almanac export`): each row read as a memory was a
                    # screen of field errors.
                    typer.echo(
                        f"error: {path} is a whole export (almanac export), not memories: "
                        "import it with `almanac import`",
                        err=True,
                    )
                    raise typer.Exit(2)
                data.pop("id", None)
                # Re-importing the same file must not duplicate: key lines by file and content.
                line_hash = hashlib.sha256(line.strip().encode()).hexdigest()[:16]
                data.setdefault("idempotency_key", f"import:{digest}:{number}:{line_hash}")
                item = RememberIn.model_validate(data)
                promotable(item, threshold)
                items.append(item)
            except ValidationFailed as exc:
                field = exc.errors[0]["field"] if exc.errors else ""
                errors.append(f"line {number}: " + (f"{field}: " if field else "") + exc.message)
            except ValidationError as exc:
                errors += [f"line {number}: {e}" for e in error_lines(exc)]
            except (ValueError, RecursionError) as exc:
                errors.append(f"line {number}: {exc}")
    if errors:
        for message in errors[:20]:
            typer.echo(f"error: {message}", err=True)
        if len(errors) > 20:
            typer.echo(f"... and {len(errors) - 20} more", err=True)
        raise typer.Exit(2)
    return items


@memory_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: Annotated[str | None, typer.Option("--url")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Import memories from JSONL (one `remember` body per line); re-running is safe.

    Memories whose expires_at has passed (an old export's) are counted, not imported.
    """
    items = _read_jsonl(file, Settings().memory.promotion_threshold)

    async def go() -> tuple[int, int, int]:
        stored = duplicates = expired = 0
        async with memory_client(Settings(), url) as client:
            with Progress(console=console) as progress:
                task = progress.add_task("importing", total=len(items))
                for start in range(0, len(items), _BATCH):
                    batch = items[start : start + _BATCH]
                    # An export holds memories that have expired since: no read shows
                    # them, and remember refuses an expiry already past.
                    now = datetime.now(UTC)
                    live = [i for i in batch if i.expires_at is None or i.expires_at > now]
                    expired += len(batch) - len(live)
                    if live:
                        out = await client.remember_batch(live)
                        stored += len(out.ids) - len(out.duplicates)
                        duplicates += len(out.duplicates)
                    progress.advance(task, len(batch))
        return stored, duplicates, expired

    stored, duplicates, expired = run(go)
    if as_json:
        return summary(
            {"imported": stored, "already_present": duplicates, "expired": expired},
            to_stderr=False,
        )
    gone = f", {expired} expired: not imported" if expired else ""
    typer.echo(f"imported {stored} memories ({duplicates} already present{gone})")


@memory_app.command("export")
def export(
    file: Annotated[Path | None, typer.Argument(help="Output file (default: stdout)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=SUMMARY_HELP)] = False,
) -> None:
    """Export every event as JSONL that `almanac memory import` reads back."""
    if file is not None:
        output_file(file)

    async def go() -> int:
        async with local_state(Settings()) as state:
            try:
                out = file.open("w", encoding="utf-8") if file else None
            except OSError as exc:  # no permission, a read-only file system
                raise AlmanacError(f"cannot write {file}: {exc.strerror or exc}") from exc
            try:
                with Progress(console=console, transient=out is None) as progress:
                    task = progress.add_task("exporting", total=None)

                    def write(record: dict[str, Any]) -> None:
                        line = json.dumps(record, ensure_ascii=False) + "\n"
                        if out is not None:
                            out.write(line)
                        else:
                            typer.echo(line, nl=False)
                        progress.advance(task)

                    return await export_events(state, write)
            finally:
                if out is not None:
                    out.close()

    count = run(go)
    if as_json:
        return summary({"exported": count, "path": str(file) if file else None}, file is None)
    console.print(f"exported {count} memories")


@memory_app.command("reindex")
def reindex_cmd(
    batch: Annotated[int, typer.Option(min=1, max=2048)] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Re-embed memories, facts and document chunks whose embedding is missing or from
    another model."""

    async def go() -> tuple[int, int, int]:
        async with local_state(Settings()) as state:
            with Progress(console=console) as progress:
                task = progress.add_task("re-embedding", total=None)
                return await reindex(state, batch, lambda n: progress.advance(task, n))

    events, facts, chunks = run(go)
    if as_json:
        return summary({"events": events, "facts": facts, "chunks": chunks}, to_stderr=False)
    console.print(f"re-embedded {events} events, {facts} facts and {chunks} document chunks")
