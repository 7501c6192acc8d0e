"""The MCP `plan` tool can ask for library estimates, as the API and CLI can."""

from __future__ import annotations

from almanac.state import AppState
from tests.live_server import LiveServer
from tests.mcp.helpers import failed, import_workflows, ok, session


async def test_the_plan_tool_can_ask_for_library_estimates(
    live_server: LiveServer, committed_state: AppState
) -> None:
    # The tool took no `estimates`: an assistant asking for the library's figures (to
    # compare, or because the user wants them) got an "unexpected argument" error.
    import_workflows(live_server)
    intent = "Run a marketing audit for Acme"
    async with session(live_server, "http") as s:
        _, plan = await ok(s, "plan", intent=intent, estimates="library")
        assert plan["estimates_mode"] == "library"
        assert {e["basis"] for e in plan["estimates"]} <= {"library", "plan"}
        _, default = await ok(s, "plan", intent=intent)
        assert default["estimates_mode"] == "calibrated"
        message = await failed(s, "plan", intent=intent, estimates="guess")
        assert "estimates" in message
