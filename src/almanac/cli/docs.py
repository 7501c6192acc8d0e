"""`almanac docs add|list|show|rm`: documents recall can cite, from the command line.

Like the other commands, these call the API: a running server when one answers, else the
same app in-process. `add` takes files or folders and is safe to re-run: unchanged files
are skipped by the server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from almanac.cli.files import UnreadableFile, read_input
from almanac.cli.runtime import answer, api_client, run
from almanac.config import Settings
from almanac.errors import AlmanacError

docs_app = typer.Typer(help="Documents: add files recall can cite.", no_args_is_help=True)
BASE = "/api/v1/memory/documents"
SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf"}
# The most any server accepts (`memory.document_max_bytes` is at most 100 MiB): a larger
# file is refused here unread; a smaller one the server may still refuse with its own bound.
READ_MAX = 100 * 1024 * 1024
console = Console()

UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (default: a running local server if any)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _files(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """The files to add, each with why it is not read (None: read it)."""
    found: list[tuple[Path, str | None]] = []
    for path in paths:
        if path.is_dir():
            found += _walk(path)
        else:
            found.append((path, None))
    return found


def _walk(folder: Path) -> list[tuple[Path, str | None]]:
    """The documents in `folder`, its subfolders too, links not followed out of it.

    A link (to a file or a folder) whose target lies outside the folder is not read: adding
    a folder adds what it holds, not what its links reach (a link to ~ or / would add or
    walk the whole of it); each is a failed row naming where it points. A folder named
    like a file ("notes.md/") is walked, not read; a pipe in it (named only by the walk,
    with no writer) would block: only files and broken links (reported as such) are taken.
    """
    root = folder.resolve()
    out: list[tuple[Path, str | None]] = []
    for here, dirs, names in os.walk(folder):  # never into linked folders
        base = Path(here)
        for name in sorted(dirs):
            link = base / name
            if link.is_symlink() and not link.resolve().is_relative_to(root):
                out.append((link, f"a link to {link.resolve()}, outside {folder}; not followed"))
        for name in names:
            p = base / name
            if p.suffix.lower() not in SUFFIXES or not (p.is_file() or not p.exists()):
                continue
            target = p.resolve()
            if p.is_symlink() and not target.is_relative_to(root):
                out.append((p, f"a link to {target}, outside {folder}; not read"))
            else:
                out.append((p, None))
    return sorted(out)


@docs_app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="Files or folders")],
    client_id: Annotated[int | None, typer.Option(min=1, max=2**31 - 1)] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable)")] = None,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add documents (Markdown, text, HTML, PDF); a folder adds every such file in it."""
    files = _files(paths)
    if not files:
        typer.echo("error: paths: no Markdown, text, HTML or PDF files found", err=True)
        raise typer.Exit(2)

    async def go() -> list[dict[str, object]]:
        results: list[dict[str, object]] = []
        form = {"tags": ",".join(tag or [])}
        if client_id is not None:
            form["client_id"] = str(client_id)
        async with api_client(Settings(), url, "memory") as client:
            with Progress(console=console, transient=True, disable=as_json) as bar:
                task = bar.add_task("adding", total=len(files))
                for path, refused in files:
                    if refused is not None:
                        results.append({"path": str(path), "status": "failed", "error": refused})
                        bar.advance(task)
                        continue
                    try:
                        data = read_input(path, READ_MAX)
                        response = await client.post(
                            BASE,
                            files={"file": (path.name, data)},
                            data={**form, "source": str(path.resolve())[-500:]},
                        )
                        results.append({"path": str(path), **answer(response)})
                    except (AlmanacError, UnreadableFile) as exc:
                        message = exc.message if isinstance(exc, AlmanacError) else str(exc)
                        results.append({"path": str(path), "status": "failed", "error": message})
                    bar.advance(task)
        return results

    results = run(go)
    if as_json:
        typer.echo(json.dumps(results, default=str))
    else:
        table = Table("file", "status", "id", "chunks", "pages")
        for r in results:
            table.add_row(
                str(r["path"]),
                str(r["status"]) + (f": {r['error']}" if "error" in r else ""),
                str(r.get("id", "")),
                str(r.get("chunks", "")),
                str(r.get("pages", "")),
            )
        console.print(table)
    if any(r["status"] == "failed" for r in results):
        raise typer.Exit(1)


@docs_app.command("list")
def list_(
    client_id: Annotated[int | None, typer.Option(min=1, max=2**31 - 1)] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List documents, newest first."""
    params: dict[str, str | int] = {"limit": limit}
    if client_id is not None:
        params["client_id"] = client_id
    if tag:
        params["tag"] = tag

    async def go() -> dict[str, list[dict[str, object]]]:
        async with api_client(Settings(), url, "memory") as client:
            return dict(answer(await client.get(BASE, params=params)))

    out = run(go)
    if as_json:
        typer.echo(json.dumps(out["items"], default=str))
        return
    table = Table("id", "title", "client", "tags", "pages", "chunks")
    for d in out["items"]:
        tags = d["tags"] if isinstance(d["tags"], list) else []
        table.add_row(
            str(d["id"]),
            str(d["title"]),
            str(d["client_id"] or ""),
            ",".join(map(str, tags)),
            str(d["pages"]),
            str(d["chunks"]),
        )
    console.print(table)


@docs_app.command("show")
def show(
    document_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)],
    url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a document and its chunks, each with the heading and page recall cites."""

    async def go() -> dict[str, Any]:
        async with api_client(Settings(), url, "memory") as client:
            return dict(answer(await client.get(f"{BASE}/{document_id}")))

    doc = run(go)
    if as_json:
        typer.echo(json.dumps(doc, default=str))
        return
    tags = ",".join(map(str, doc.get("tags") or []))
    pages = f"{doc['pages']} page" + ("" if doc["pages"] == 1 else "s")
    typer.echo(f"{doc['id']}  {doc['title']}  ({doc['source']}, {pages})")
    typer.echo(f"client {doc['client_id'] or '-'}  tags {tags or '-'}  chunks {doc['chunks']}")
    for chunk in doc.get("chunk_list", []):
        where = [str(chunk["heading"])] if chunk.get("heading") else []
        if chunk.get("page") is not None:
            where.append(f"page {chunk['page']}")
        typer.echo(f"\n[{chunk['index']}] {' · '.join(where) or '(no heading)'}")
        typer.echo(str(chunk["content"]))


@docs_app.command("rm")
def remove(
    document_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Remove a document and its chunks."""

    async def go() -> None:
        async with api_client(Settings(), url, "memory") as client:
            response = await client.delete(f"{BASE}/{document_id}")
            if response.status_code != 204:
                answer(response)

    run(go)
    if as_json:  # the API answers 204: say what was removed
        typer.echo(json.dumps({"id": document_id, "removed": True}))
        return
    typer.echo(f"document {document_id} removed")
