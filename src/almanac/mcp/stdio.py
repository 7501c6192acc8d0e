"""`almanac mcp`: the MCP server over stdio for desktop clients.

It calls the running server when one answers (so caches stay coherent), else the app
in-process, like the CLI. The key comes from ALMANAC_API_KEY or `<data_dir>/api-key`."""

from __future__ import annotations

import os
import sys
from io import TextIOWrapper
from pathlib import Path

import anyio
from mcp.server.stdio import stdio_server

from almanac.cli.runtime import api_client
from almanac.config import Settings
from almanac.mcp.api import Api
from almanac.mcp.server import build_server


def api_key(settings: Settings) -> str | None:
    """ALMANAC_API_KEY, else the key `almanac serve` wrote into the data folder."""
    key = os.environ.get("ALMANAC_API_KEY", "").strip()
    if key:
        return key
    path = Path(settings.data_dir) / "api-key"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _protocol_stdout() -> TextIOWrapper:
    """Keep the real stdout for the protocol and send everything else printed (embedded
    Postgres, libraries) to stderr, where it cannot corrupt the JSON-RPC stream."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return TextIOWrapper(os.fdopen(protocol_fd, "wb", buffering=0), encoding="utf-8")


async def serve_stdio(settings: Settings, url: str | None) -> None:
    out = anyio.wrap_file(_protocol_stdout())
    key = api_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with api_client(settings, url) as client:
        api = Api(client, headers)
        server = build_server(lambda ctx: api)
        lowlevel = server._mcp_server
        async with stdio_server(stdout=out) as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
