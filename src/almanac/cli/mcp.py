"""`almanac mcp`: the MCP server over stdio (Claude Desktop, Claude Code, Cursor).

It calls the running server when one answers (so caches stay coherent), else the app
in-process, like the other commands. The key comes from ALMANAC_API_KEY or the data
folder's `api-key` file."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from almanac.config import Settings


def mcp(
    url: Annotated[
        str | None, typer.Option("--url", help="Almanac URL (default: a running local server)")
    ] = None,
) -> None:
    """Serve Almanac's MCP tools over stdio (talks to the running server, else in-process)."""
    from almanac.cli.connect import api_key
    from almanac.cli.runtime import api_client
    from almanac.mcp.stdio import protocol_stdout, serve_stdio

    # ALMANAC_API_KEY, else the key `almanac serve` wrote into the data folder; a key no
    # header can carry stops here, not in every tool call.
    key = api_key()
    out = protocol_stdout()  # before anything can print
    settings = Settings()

    async def go() -> None:
        # In-process too the tools act with that key: a desktop assistant given a read key
        # got every tool, forget_subject included, whenever no server was running.
        # A rate limit is the tool's answer at once, not a wait of minutes (paced=False).
        # "all": the memory tools go to the Gateway's server when the services run apart.
        async with api_client(settings, url, "all", as_owner=key is None, paced=False) as client:
            await serve_stdio(client, key, out)

    anyio.run(go)
