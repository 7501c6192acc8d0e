"""`almanac mcp`: the MCP server over stdio (Claude Desktop, Claude Code, Cursor)."""

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
    from almanac.mcp.stdio import serve_stdio

    anyio.run(serve_stdio, Settings(), url)
