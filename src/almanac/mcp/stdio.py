"""The MCP server over stdio, on an API client the caller chose (see `almanac mcp`)."""

from __future__ import annotations

import logging
import os
import sys
from io import TextIOWrapper

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCMessage

from almanac.mcp.api import Api
from almanac.mcp.finite import nonfinite_param, refusal
from almanac.mcp.server import build_server
from almanac.redact import key_headers


def protocol_stdout() -> TextIOWrapper:
    """Keep the real stdout for the protocol and send everything else printed (embedded
    Postgres, libraries) to stderr, where it cannot corrupt the JSON-RPC stream."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return TextIOWrapper(os.fdopen(protocol_fd, "wb", buffering=0), encoding="utf-8")


async def serve_stdio(client: httpx.AsyncClient, key: str | None, out: TextIOWrapper) -> None:
    """Serve until stdin closes; every tool call goes through `client` with `key`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = Api(client, key_headers(key, str(client.base_url)))  # X-API-Key beside a login
    server = build_server(lambda ctx: api)
    lowlevel = server._mcp_server
    async with (
        stdio_server(stdout=anyio.wrap_file(out)) as (read, write),
        anyio.create_task_group() as tg,
    ):
        passed, kept = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        tg.start_soon(_finite_only, read, passed, write)
        await lowlevel.run(kept, write, lowlevel.create_initialization_options())
        tg.cancel_scope.cancel()


async def _finite_only(
    read: MemoryObjectReceiveStream[SessionMessage | Exception],
    passed: MemoryObjectSendStream[SessionMessage | Exception],
    write: MemoryObjectSendStream[SessionMessage],
) -> None:
    """Pass every message on but one holding NaN or Infinity, which is answered here (see
    `almanac.mcp.finite`)."""
    async with passed:
        async for item in read:
            if isinstance(item, SessionMessage):
                message = item.message.model_dump(by_alias=True, exclude_none=True)
                if (found := nonfinite_param(message)) is not None:
                    answer = refusal(message, found)
                    if answer is not None:
                        await write.send(SessionMessage(JSONRPCMessage.model_validate(answer)))
                    continue
            await passed.send(item)
