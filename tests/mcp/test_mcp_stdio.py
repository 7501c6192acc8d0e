"""`almanac mcp` as a desktop client starts it: a real subprocess over stdio, talking to
the running server when one answers, else running the app in-process."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from almanac.state import AppState
from tests.live_server import LiveServer, free_port
from tests.mcp.helpers import failed, ok, stdio_session
from tests.mcp.test_mcp_http import READ_TOOLS, TOOLS


async def test_stdio_uses_the_running_server(
    live_server: LiveServer, committed_state: AppState
) -> None:
    tag = uuid.uuid4().hex[:8]
    env = dict(live_server.env)  # same port and data folder (and its key file)
    async with stdio_session(env) as s:
        assert {t.name for t in (await s.list_tools()).tools} == TOOLS
        text, out = await ok(s, "remember", content=f"Invoice Acme on the 1st ({tag})")
        assert text == f"remembered #{out['id']}"
        assert "recall" in await failed(s, "recall", query="x", k=0)
    # Written through the server: its API sees it.
    hits = httpx.get(
        live_server.url + "/api/v1/memory/recall",
        params={"query": f"invoice {tag}"},
        headers=live_server.headers,
        timeout=60,
    ).json()
    assert hits["results"][0]["id"] == out["id"]


async def test_stdio_to_a_url_with_a_proxy_login_still_sends_the_key(
    live_server: LiveServer,
) -> None:
    """httpx sends a login in the URL as `Authorization: Basic`, which replaced the Bearer
    key the tools send: every call was refused. The key goes as X-API-Key beside it."""
    url = live_server.url.replace("http://", "http://proxy:s3cret-pass@")
    env = dict(live_server.env, ALMANAC_URL=url, ALMANAC_API_KEY=live_server.key)
    async with stdio_session(env) as s:
        await ok(s, "recall", query="anything")


async def test_stdio_runs_in_process_when_no_server_answers(
    live_server: LiveServer, committed_state: AppState, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    # Another port alone still found the live server's record in its data folder (so this
    # ran through the server); a folder with no record, and nothing listens.
    env = dict(
        live_server.env, ALMANAC_DATA_DIR=str(tmp_path), ALMANAC_SERVER__PORT=str(free_port())
    )
    async with stdio_session(env) as s:
        _, out = await ok(s, "remember", content=f"Passport renewal in May ({tag})")
        text, _ = await ok(s, "recall", query=f"passport {tag}")
        assert f"#{out['id']}" in text
        text, _ = await ok(s, "context", query="passport", token_budget=100)
        assert f"[memory #{out['id']}" in text


async def test_stdio_with_a_refused_key_answers_every_call_with_the_api_error(
    live_server: LiveServer, committed_state: AppState
) -> None:
    env = dict(live_server.env, ALMANAC_API_KEY="alm_not-a-key")
    async with stdio_session(env) as s:
        # The scope is unknown, so every tool is listed; each call says why it is refused.
        assert {t.name for t in (await s.list_tools()).tools} == TOOLS
        for tool, args in (("recall", {"query": "x"}), ("remember", {"content": "x"})):
            assert "(401)" in await failed(s, tool, **args)


async def test_stdio_in_process_keeps_the_keys_scope(
    live_server: LiveServer, committed_state: AppState, tmp_path: Path
) -> None:
    """Before: with no server answering, the app ran in-process as the owner whatever the
    key: a read key got every tool, and its writes (a forget_subject too) went through."""
    key = live_server.create_key(f"stdio-read-{uuid.uuid4().hex[:6]}", "read")
    # A data folder no server has recorded itself in: the app runs in-process.
    env = dict(
        live_server.env,
        ALMANAC_DATA_DIR=str(tmp_path),
        ALMANAC_SERVER__PORT=str(free_port()),
        ALMANAC_API_KEY=key,
    )
    async with stdio_session(env) as s:
        assert {t.name for t in (await s.list_tools()).tools} == READ_TOOLS
        assert "(403)" in await failed(s, "remember", content="a read key cannot write this")
        await ok(s, "recall", query="anything")
    env = dict(env, ALMANAC_API_KEY="alm_not-a-key")
    async with stdio_session(env) as s:
        assert "(401)" in await failed(s, "recall", query="anything")


class _Limited(BaseHTTPRequestHandler):
    """An API that knows the key and answers every other call 429."""

    calls: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        if self.path.startswith("/api/v1/auth/me"):
            self._send(200, {"name": "k", "scope": "admin"})
        else:
            self._send(429, {"title": "Too many requests", "status": 429, "detail": "slow down"})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(data)


async def test_stdio_says_a_rate_limit_at_once(live_server: LiveServer, tmp_path: Path) -> None:
    """The CLI waits out a 429 (a folder of documents must not fail past the limit); an
    assistant's tool call must not: it is answered with the 429, sent once."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Limited)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = dict(live_server.env, ALMANAC_DATA_DIR=str(tmp_path), ALMANAC_URL=url)
    try:
        async with stdio_session(env) as s:
            assert "(429)" in await failed(s, "recall", query="anything")
    finally:
        server.shutdown()
        server.server_close()
    assert len([p for p in _Limited.calls if p.startswith("/api/v1/memory/recall")]) == 1
