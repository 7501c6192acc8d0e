"""An MCP tool call over HTTP counts once against its key's request limit, as the same
call through REST does: the key check and the tool's API call each counted it, so a key
allowed N requests a minute got N/2 tool calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.live_server import LiveServer, serving

LIMIT = 8  # requests an hour: the limiter's window slides (the previous one's count fades
# as the new one fills), so a minute's window crossed by a slow run let a ninth call in
CALL = '{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": %s}'


@pytest.fixture(scope="module")
def counted_server(pg_url: str, tmp_root: Path, engine: AsyncEngine) -> Iterator[LiveServer]:
    limit = {"ALMANAC_SECURITY__RATE_LIMIT": f"{LIMIT}/hour"}
    with serving(pg_url, tmp_root / "mcp-rate-count", **limit) as server:
        yield server


def test_each_tool_call_counts_once_against_the_limit(counted_server: LiveServer) -> None:
    headers = {
        **counted_server.headers,
        "Accept": "application/json, text/event-stream",
        "content-type": "application/json",
    }
    answered = 0
    with httpx.Client(timeout=60) as client:
        for i in range(LIMIT + 1):
            params = '{"name": "list_plans", "arguments": {}}'
            r = client.post(
                counted_server.url + "/mcp", content=CALL % (i, params), headers=headers
            )
            assert r.status_code == 200, r.text
            if "error" in r.json():
                assert "Too many requests (429)" in r.json()["error"]["message"], r.text
                break
            assert not r.json()["result"].get("isError"), r.text
            answered += 1
    assert answered == LIMIT
