"""`almanac keys create|list|revoke`: API keys, through the running server or in-process."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from almanac.cli.output import local_minute
from almanac.cli.runtime import answer, api_client, run
from almanac.cli.validation import segment
from almanac.config import Settings

console = Console()
keys_app = typer.Typer(help="API keys (read, write, admin).", no_args_is_help=True)
KEYS = "/api/v1/auth/keys"

UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Server URL (default: a running local server if any)")
]


async def _call(method: str, path: str, url: str | None, **kwargs: Any) -> Any:
    async with api_client(Settings(), url) as client:
        return answer(await client.request(method, path, **kwargs))


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name for the key (unique)")],
    scope: Annotated[str, typer.Option("--scope", help="read, write or admin")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Create a key; it is printed once, as the last line."""
    if scope not in ("read", "write", "admin"):
        typer.echo("error: scope: must be one of read, write, admin", err=True)
        raise typer.Exit(2)
    out = run(lambda: _call("POST", KEYS, url, json={"name": name, "scope": scope}))
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"created key {out['name']!r} with scope {out['scope']} (prefix {out['prefix']})")
    typer.echo("it is shown only now; store it somewhere safe:")
    typer.echo(out["key"])


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys")] = False,
    url: UrlOpt = None,
) -> None:
    """Keys: name, scope, prefix, created, last used (never the key itself)."""
    rows = run(lambda: _call("GET", KEYS, url, params={"include_revoked": revoked}))
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="API keys")
    for col in ("name", "scope", "prefix", "created", "last used", "uses", "revoked"):
        table.add_column(col, overflow="fold")
    for k in rows:
        table.add_row(
            k["name"],
            k["scope"],
            k["prefix"] + "…",
            local_minute(k["created_at"]),
            local_minute(k["last_used_at"]) if k["last_used_at"] else "never",
            str(k["use_count"]),
            local_minute(k["revoked_at"]),
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
    url: UrlOpt = None,
) -> None:
    """Revoke a key (its dashboard sessions end too)."""
    key = segment(name, "NAME")
    out = run(lambda: _call("DELETE", f"{KEYS}/{key}", url))
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"revoked key {out['name']!r}")
