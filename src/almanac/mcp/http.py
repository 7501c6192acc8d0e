"""Streamable HTTP at /mcp inside `almanac serve`: the caller's key, the app in-process.

Each tool call is an in-process ASGI request against the same app (no socket, no second
server), carrying the MCP request's own `Authorization`/`X-API-Key` header, so the API's
authentication, scopes, validation and transactions apply unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from mcp.server.fastmcp import Context
from starlette.types import ASGIApp, Receive, Scope, Send

from almanac.mcp.api import AUTH_HEADERS, Api
from almanac.mcp.server import build_server

PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _WithState:
    """The app with the lifespan state that the server put in the MCP request's scope."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)


class McpMount:
    """The MCP endpoint of one app; `running()` belongs in the app's lifespan."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self.app = app
        self._client: httpx.AsyncClient | None = None
        self.server = build_server(self.api, http_path=PATH, loopback_only=host in LOOPBACK)
        for route in self.server.streamable_http_app().routes:
            app.router.routes.append(route)

    def api(self, ctx: Context) -> Api:  # type: ignore[type-arg]
        request = ctx.request_context.request
        if request is None:  # pragma: no cover - only HTTP requests reach this server
            raise RuntimeError("the /mcp server needs an HTTP request")
        headers = {h: v for h in AUTH_HEADERS if (v := request.headers.get(h))}
        if self._client is None:
            transport = httpx.ASGITransport(app=_WithState(self.app, request.scope["state"]))
            self._client = httpx.AsyncClient(
                transport=transport, base_url="http://almanac.internal", timeout=300
            )
        return Api(self._client, headers)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            try:
                yield
            finally:
                if self._client is not None:
                    await self._client.aclose()
                    self._client = None
