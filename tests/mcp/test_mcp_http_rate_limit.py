"""A key past its rate limit over Streamable HTTP: each call is refused, the session lives.

The key check answered HTTP 429, and the SDK's client ends the whole session on an error
status: one call past the limit lost the session (an ExceptionGroup out of the client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.shared.exceptions import McpError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.live_server import LiveServer, serving
from tests.mcp.helpers import http_session

LIMIT = 6  # requests a minute: initialize and a few calls, each a key check and its call


@pytest.fixture(scope="module")
def limited_server(pg_url: str, tmp_root: Path, engine: AsyncEngine) -> Iterator[LiveServer]:
    limit = {"ALMANAC_SECURITY__RATE_LIMIT": f"{LIMIT}/minute"}
    with serving(pg_url, tmp_root / "mcp-rate-limit", **limit) as server:
        yield server


async def test_a_call_past_the_rate_limit_is_an_error_not_the_end_of_the_session(
    limited_server: LiveServer,
) -> None:
    refusals: list[McpError] = []
    with anyio.fail_after(60):
        async with http_session(limited_server, limited_server.key) as s:
            for _ in range(LIMIT):
                try:
                    await s.call_tool("list_plans", {})
                except McpError as exc:
                    refusals.append(exc)
            # Refused again, on the same session: it is still there.
            with pytest.raises(McpError):
                await s.list_tools()
    assert refusals, "no call was refused past the limit"
    error = refusals[-1].error
    assert error.message.startswith("Too many requests (429): rate limit of"), error.message
    assert "retry in" in error.message and error.data["status"] == 429, error


def test_a_notification_past_the_limit_is_dropped_with_a_202(limited_server: LiveServer) -> None:
    """A notification has no answer to carry a refusal, and an HTTP 429 ends the SDK's
    session: past the limit it is dropped, answered 202 with Retry-After."""
    headers = {
        "Authorization": f"Bearer {limited_server.key}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    note = '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    for _ in range(2 * LIMIT):
        r = httpx.post(limited_server.url + "/mcp", content=note, headers=headers, timeout=60)
        assert r.status_code == 202, r.text
        if "retry-after" in r.headers:
            assert r.headers["retry-after"].isdigit()
            return
    pytest.fail("the notifications were never limited")


def test_a_notification_past_the_limit_is_dropped_not_an_error_status() -> None:
    """A notification (no id) past the limit got the HTTP 429 too, which ends the SDK
    client's session as a call's did; it gets no answer, so it is dropped: 202."""
    from almanac.mcp.http import limited

    who = httpx.Response(429, json={"detail": "over 6 a minute"}, headers={"Retry-After": "7"})
    note = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
    dropped = limited(note, who)
    assert dropped is not None and dropped.status_code == 202 and not dropped.body
    assert dropped.headers["retry-after"] == "7"
    call = b'{"jsonrpc": "2.0", "id": 3, "method": "tools/list"}'
    refused = limited(call, who)
    assert refused is not None and refused.status_code == 200
    assert b'"id": 3' in refused.body and b"over 6 a minute" in refused.body
    assert limited(b"[" + note + b"]", who) is None  # a batch: the HTTP 429
