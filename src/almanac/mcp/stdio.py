"""The MCP server over stdio, on an API client the caller chose (see `almanac mcp`)."""

from __future__ import annotations

import json
import logging
import os
import sys
from io import TextIOWrapper
from typing import Any, BinaryIO

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCMessage
from pydantic import ValidationError

from almanac.mcp import wire
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


class _Lines:
    """The protocol's output, one JSON message per line; the server's answers and the
    reader's refusals share it, a line at a time."""

    def __init__(self, out: TextIOWrapper) -> None:
        self.out = anyio.wrap_file(out)
        self.lock = anyio.Lock()

    async def send(self, line: str) -> None:
        async with self.lock:
            await self.out.write(line + "\n")
            await self.out.flush()

    async def drain(self, answers: MemoryObjectReceiveStream[SessionMessage]) -> None:
        async with answers:
            async for answer in answers:
                await self.send(answer.message.model_dump_json(by_alias=True, exclude_none=True))


async def serve_stdio(
    client: httpx.AsyncClient,
    key: str | None,
    out: TextIOWrapper,
    stdin: BinaryIO | None = None,
) -> None:
    """Serve until stdin closes; every tool call goes through `client` with `key`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = Api(client, key_headers(key, str(client.base_url)))  # X-API-Key beside a login
    server = build_server(lambda ctx: api)
    lowlevel = server._mcp_server
    lines = _Lines(out)
    passed, kept = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    answers, to_write = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lines.drain, to_write)
        tg.start_soon(_read, anyio.wrap_file(stdin or sys.stdin.buffer), passed, lines)
        await lowlevel.run(kept, answers, lowlevel.create_initialization_options())
        tg.cancel_scope.cancel()


async def _read(
    stdin: anyio.AsyncFile[bytes],
    passed: MemoryObjectSendStream[SessionMessage | Exception],
    lines: _Lines,
) -> None:
    """Pass each message on; answer here one the SDK would leave unanswered (bytes no
    message can be read from, an id that is none, a shape no message has) or read with
    NaN or Infinity in it (see `almanac.mcp.finite`)."""
    async with passed:
        async for line in stdin:
            if not line.strip():
                continue
            answer = wire.refusal(line)
            if answer is None:
                message = json.loads(line)
                try:
                    read = JSONRPCMessage.model_validate(message)
                except ValidationError:
                    answer = wire.error(
                        wire.INVALID_REQUEST, _shapeless(message), wire.readable_id(message)
                    )
                else:
                    if (found := nonfinite_param(message)) is None:
                        await passed.send(SessionMessage(read))
                        continue
                    answer = refusal(message, found)  # None for a notification: dropped
            if answer is not None:
                await lines.send(json.dumps(answer))


def _shapeless(message: dict[str, Any]) -> str:
    """Why an object is no JSON-RPC message (the SDK's reason lists every shape it is not)."""
    if message.get("jsonrpc") != "2.0":
        return 'Invalid Request: jsonrpc must be "2.0"'
    if "method" in message and not isinstance(message["method"], str):
        return "Invalid Request: method must be a string"
    return (
        "Invalid Request: neither a request or notification (with a method) nor an answer "
        "(with a result or an error)"
    )
