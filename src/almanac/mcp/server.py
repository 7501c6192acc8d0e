"""The MCP server: one FastMCP instance whose tools call the REST API as the caller."""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.transport_security import TransportSecuritySettings

from almanac.mcp import prompts, resources
from almanac.mcp.api import Api
from almanac.mcp.tools import memory, planning, review, time

# The caller's API client for this request (stdio: one fixed; HTTP: from the bearer key).
Resolver = Callable[[Context], Api]  # type: ignore[type-arg]

INSTRUCTIONS = (
    "Almanac remembers (memories and durable facts), plans (intent → draft plan → approve), "
    "schedules tasks into the calendar (schedule previews first; call again with apply=true) "
    "and reflects on estimates versus reality. Ids in results (#12) are what other tools take."
)


def build_server(resolve: Resolver, *, http_path: str = "/mcp") -> FastMCP:
    """The server with every tool, resource and prompt; `resolve` gives a call's API."""
    server = FastMCP(
        "Almanac",
        instructions=INSTRUCTIONS,
        streamable_http_path=http_path,
        stateless_http=True,
        json_response=True,
        # The app's own middleware checks Host and Origin for every route, /mcp included.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        # FastMCP configures the root logger; keep it at the level the app had (warnings).
        log_level="WARNING",
    )
    for area in (memory, planning, time, review):
        area.register(server, resolve)
    resources.register(server, resolve)
    prompts.register(server, resolve)
    return server
