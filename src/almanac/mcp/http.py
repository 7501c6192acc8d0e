"""Streamable HTTP at /mcp inside `almanac serve`: the caller's key, the app in-process.

Each MCP request must carry a valid API key (checked by the API itself, `GET
/api/v1/auth/me`), and each tool call is an in-process ASGI request against the same app
(no socket, no second server) with the caller's `Authorization`/`X-API-Key` header, so the
API's authentication, scopes, validation and transactions apply unchanged.

The MCP SDK (with its JSON Schema and telemetry dependencies, ~25 MB) is imported on the
first authenticated request, not at start: a server nobody reaches over MCP never loads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from anyio.abc import TaskGroup, TaskStatus
from fastapi import FastAPI
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from almanac.auth.runtime import COUNTED_UPSTREAM
from almanac.mcp import AUTH_HEADERS, wire
from almanac.mcp.finite import nonfinite_param, refusal
from almanac.mcp.wire import bad_id

if TYPE_CHECKING:
    from mcp.server.fastmcp import Context

    from almanac.mcp.api import Api
PATH = "/mcp"
# Where the authenticated request carries its key's scope to the tools (and tools/list).
KEY_SCOPE = "almanac.key_scope"
TIMEZONE = "almanac.timezone"  # the user's zone, from the same /auth/me answer


class _WithState:
    """The app with the lifespan state that the server put in the MCP request's scope;
    `counted`: its requests are made for an MCP call the key check already counted."""

    def __init__(self, app: ASGIApp, state: dict[str, Any], *, counted: bool = False) -> None:
        self.app, self.state, self.counted = app, state, counted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(self.state)
        if self.counted:
            scope[COUNTED_UPSTREAM] = True
        await self.app(scope, receive, send)


def _auth_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The caller's key headers as sent: every one (a key given twice with two keys is the
    API's 400, not the first one's answer) and as bytes (a value beyond ASCII is the API's
    401, where re-encoding it as text was a 500)."""
    wanted = {h.encode() for h in AUTH_HEADERS}
    return [(k, v) for k, v in scope.get("headers", ()) if k.lower() in wanted and v]


def limited(body: bytes, who: httpx.Response) -> Response | None:
    """A rate-limited request's JSON-RPC error (HTTP 200, Retry-After kept); a notification
    or a client's response dropped, answered 202 as one accepted (it gets no answer); None
    for anything else (a batch, no JSON-RPC: the HTTP 429). The SDK's client ended the
    whole session on an HTTP error status: one message past the limit lost it."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    retry = who.headers.get("retry-after")
    headers = {"Retry-After": retry} if retry else None
    if "method" not in message or "id" not in message:
        return Response(status_code=202, headers=headers)
    if bad_id(message) is not None:
        return None
    try:
        detail = str(who.json().get("detail") or "")
    except ValueError:
        detail = ""
    error = {
        "code": -32000,
        "message": f"Too many requests (429): {detail or 'rate limit exceeded'}",
        "data": {"status": 429, "retry_after": int(retry) if retry and retry.isdigit() else None},
    }
    answer = {"jsonrpc": "2.0", "id": message["id"], "error": error}
    return Response(json.dumps(answer), 200, headers=headers, media_type="application/json")


_SPACE = re.compile(r"\s*")
# An integer id ends where the number does; "12" at the end of the bytes may go on ("123").
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)(?=[\s,}])")
_DECODER = json.JSONDecoder()
_UNKNOWN: tuple[bool, str | int | None] = (False, None)


def leading_id(prefix: bytes) -> tuple[bool, str | int | None]:
    """(True, id) when the first bytes of a message already hold its top-level `id` (a
    string or an integer); (False, None) when they do not tell. Only top-level members
    before it are read, each whole, so an `id` inside `params` is never taken."""
    text = prefix.decode("utf-8", "ignore")  # a character cut at the end is dropped
    at = _SPACE.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("{", at):
        return _UNKNOWN
    at += 1
    try:
        while True:
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if not text.startswith('"', at):
                return _UNKNOWN
            key, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if not text.startswith(":", at):
                return _UNKNOWN
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            if key == "id":
                if number := _INTEGER.match(text, at):
                    return True, int(number.group())
                value, _ = _DECODER.raw_decode(text, at)
                return (True, value) if isinstance(value, str) else _UNKNOWN
            _, at = _DECODER.raw_decode(text, at)
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if not text.startswith(",", at):
                return _UNKNOWN
            at += 1
    except (ValueError, RecursionError):  # cut short, or not JSON
        return _UNKNOWN


# The last member of a message, when it is its id: `"id": 3}` closing the body can only be
# a top-level member (a quote inside a string is escaped, so `,"id"` cannot be in one).
_LAST_ID = re.compile(rb'[,{]\s*"id"\s*:\s*(-?(?:0|[1-9][0-9]*)|"(?:[^"\\]|\\.)*")\s*}\s*\Z')


def trailing_id(suffix: bytes) -> tuple[bool, str | int | None]:
    """(True, id) when a message's last bytes end with its top-level `id` (the SDK's own
    client writes `id` last, after `params`); (False, None) when they do not tell."""
    found = _LAST_ID.search(suffix)
    if found is None:
        return _UNKNOWN
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return _UNKNOWN
    return (True, value) if isinstance(value, str | int) else _UNKNOWN


def too_large(first: bytes, last: bytes, limit: int) -> Response | None:
    """A request over the body limit as a JSON-RPC error (HTTP 200) when its first or
    last bytes name its id, else None (the HTTP 413). The SDK's client ended the whole
    session on the 413: one large call (a long note to remember) lost it."""
    known, request_id = leading_id(first)
    if not known:
        known, request_id = trailing_id(last)
    if not known:
        return None
    error = {
        "code": -32600,
        "message": f"Request too large (413): the body is larger than {limit} bytes",
        "data": {"status": 413, "limit": limit},
    }
    answer = {"jsonrpc": "2.0", "id": request_id, "error": error}
    return Response(json.dumps(answer), 200, media_type="application/json")


def _nonfinite_refusal(body: bytes) -> Response | None:
    """A request holding NaN or Infinity answered (a notification dropped, 202), or None."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = nonfinite_param(message)
    if found is None:
        return None
    answer = refusal(message, found)
    if answer is None:
        return Response(status_code=202)
    return Response(json.dumps(answer), 200, media_type="application/json")


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (bounded in size by the browser-safety middleware)."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Any:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class _Authenticated:
    """An ASGI app (not a function, so Starlette routes every method to it) that lets a
    request through only when the API accepts its key."""

    def __init__(self, mount: McpMount) -> None:
        self.mount = mount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _auth_headers(scope)
        who = await self.mount.client(scope).get("/api/v1/auth/me", headers=headers)
        if who.status_code == 429 and scope.get("method") == "POST":
            body = await _read_body(receive)
            if (refusal := limited(body, who)) is not None:
                await refusal(scope, receive, send)
                return
        if who.status_code >= 400:  # no key, a wrong one, or a rate limit: as the API says
            passed = {
                k: v
                for k, v in who.headers.items()
                if k.lower() in ("content-type", "www-authenticate", "retry-after")
            }
            await Response(who.content, who.status_code, headers=passed)(scope, receive, send)
            return
        me = who.json()
        scope[KEY_SCOPE], scope[TIMEZONE] = me.get("scope"), me.get("timezone")
        if scope.get("method") == "GET":
            # A stateless server never sends on its own, so the SDK's GET stream stayed
            # open and silent forever, one held connection per call; the transport lets a
            # server without such a stream answer 405.
            answer = wire.error(
                wire.INVALID_REQUEST, "Method Not Allowed: this server has no GET stream"
            )
            await Response(
                json.dumps(answer), 405, headers={"Allow": "POST"}, media_type="application/json"
            )(scope, receive, send)
            return
        if scope.get("method") == "POST":
            body = await _read_body(receive)
            if (unread := wire.refusal(body)) is not None:
                await Response(json.dumps(unread), 400, media_type="application/json")(
                    scope, receive, send
                )
                return
            if (refused := _nonfinite_refusal(body)) is not None:
                await refused(scope, receive, send)
                return
            receive = _replay(body, receive)
        handler = await self.mount.handler()
        await handler(scope, receive, send)


class McpMount:
    """The MCP endpoint of one app; `running()` belongs in the app's lifespan."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._client: httpx.AsyncClient | None = None
        self._tool_client: httpx.AsyncClient | None = None
        self._handler: ASGIApp | None = None
        self._starting = anyio.Lock()
        self._tasks: TaskGroup | None = None
        self._stop = anyio.Event()
        app.router.routes.append(Route(PATH, endpoint=_Authenticated(self)))

    def client(self, scope: Scope) -> httpx.AsyncClient:
        """The key check's client: each MCP message it lets through counts once."""
        if self._client is None:
            self._client = self._new_client(scope, counted=False)
        return self._client

    def tool_client(self, scope: Scope) -> httpx.AsyncClient:
        """The tools' client: their API calls serve a message already counted (a tool
        call counted twice, once for the key check and once for the API call)."""
        if self._tool_client is None:
            self._tool_client = self._new_client(scope, counted=True)
        return self._tool_client

    def _new_client(self, scope: Scope, *, counted: bool) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=_WithState(self.app, scope["state"], counted=counted))
        # A loopback base URL: the app's Host allow-list accepts it.
        return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=300)

    def api(self, ctx: Context) -> Api:  # type: ignore[type-arg]
        from almanac.mcp.api import Api

        request = ctx.request_context.request
        if request is None:  # pragma: no cover - only HTTP requests reach this server
            raise RuntimeError("the /mcp server needs an HTTP request")
        return Api(
            self.tool_client(request.scope),
            _auth_headers(request.scope),
            request.scope.get(KEY_SCOPE),
            request.scope.get(TIMEZONE),
        )

    async def handler(self) -> ASGIApp:
        """The SDK's Streamable HTTP app, built and started on first use."""
        if self._handler is None:
            async with self._starting:
                if self._handler is None:
                    self._handler = await self._start()
        return self._handler

    async def _start(self) -> ASGIApp:
        from mcp.server.fastmcp.server import StreamableHTTPASGIApp

        from almanac.mcp.server import build_server

        if self._tasks is None:
            raise RuntimeError("the /mcp endpoint is used outside the app's lifespan")
        server = build_server(self.api, http_path=PATH)
        server.streamable_http_app()  # creates the session manager
        manager = server.session_manager

        # The session manager's task group lives in a task of the lifespan's task group,
        # so it is entered and left by the same task, and ends with the app.
        async def run(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with manager.run():
                task_status.started()
                await self._stop.wait()

        await self._tasks.start(run)
        return StreamableHTTPASGIApp(manager)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._stop.set()
                self._tasks = None
                for client in (self._client, self._tool_client):
                    if client is not None:
                        await client.aclose()
                self._client = self._tool_client = None
