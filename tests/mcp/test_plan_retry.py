"""The MCP `plan` tool passes an idempotency key: a retried call returns the first plan."""

from __future__ import annotations

import uuid

from almanac.state import AppState
from tests.live_server import LiveServer
from tests.mcp.helpers import failed, import_workflows, ok, session


async def test_a_retried_plan_call_with_its_key_returns_the_first_plan(
    live_server: LiveServer, committed_state: AppState
) -> None:
    import_workflows(live_server)
    key = f"audit-{uuid.uuid4()}"
    intent = "Run a marketing audit for Acme"
    async with session(live_server, "http") as s:
        _, first = await ok(s, "plan", intent=intent, idempotency_key=key)
        _, again = await ok(s, "plan", intent=intent, idempotency_key=key)
        assert again["id"] == first["id"]
        message = await failed(s, "plan", intent=f"{intent} and Initech", idempotency_key=key)
        assert "idempotency_key" in message and "409" in message
