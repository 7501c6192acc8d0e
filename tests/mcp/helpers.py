"""MCP client sessions (the SDK's own client) against a live server, stdio or HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from mcp import ClientSession, StdioServerParameters
from tests.live_server import LiveServer


@asynccontextmanager
async def http_session(
    server: LiveServer, key: str | None, *, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """An MCP session over HTTP with `key` as a Bearer key, or with `headers` as given."""
    if headers is None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(headers=headers, timeout=120) as client:
        async with streamable_http_client(server.url + "/mcp", http_client=client) as (
            read,
            write,
            _,
        ):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def stdio_session(env: dict[str, str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "almanac", "mcp"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def session(
    server: LiveServer, transport: str, key: str | None = None
) -> AsyncIterator[ClientSession]:
    """A session over `transport` ("http" or "stdio": `almanac mcp` talking to `server`),
    authenticated with `key` (default: the server's admin key)."""
    key = key or server.key
    if transport == "http":
        async with http_session(server, key) as s:
            yield s
    else:
        async with stdio_session(dict(server.env, ALMANAC_API_KEY=key)) as s:
            yield s


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def ok(session: ClientSession, tool: str, **args: Any) -> tuple[str, Any]:
    """Call a tool that must succeed: (its text, its structured content)."""
    result = await session.call_tool(tool, args)
    assert not result.isError, f"{tool} failed: {text(result)}"
    assert result.structuredContent is not None
    return text(result), result.structuredContent


async def failed(session: ClientSession, tool: str, **args: Any) -> str:
    result = await session.call_tool(tool, args)
    assert result.isError, f"{tool} should have failed: {text(result)}"
    return text(result)


def has_route(server: LiveServer, method: str, path: str) -> bool:
    spec = httpx.get(server.url + "/openapi.json", headers=server.headers, timeout=60).json()
    return method.lower() in spec["paths"].get(path, {})


def import_workflows(server: LiveServer) -> None:
    r = httpx.post(
        server.url + "/api/v1/planner/workflows/import", headers=server.headers, timeout=60
    )
    assert r.status_code == 200, r.text


def resource_json(contents: Any) -> Any:
    return json.loads(contents.contents[0].text)
