"""The MCP server: one FastMCP instance whose tools call the REST API as the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import McpError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    ContentBlock,
    ErrorData,
    GetPromptResult,
    ListToolsRequest,
    ListToolsResult,
    ServerResult,
    Tool,
)
from pydantic import AnyUrl, ValidationError

from almanac import __version__
from almanac.auth.principal import Scope, scope_allows
from almanac.mcp import prompts, resources
from almanac.mcp.api import Api, ApiProblem
from almanac.mcp.arguments import check_arguments, validation_text
from almanac.mcp.tools import memory, planning, review, time

# The caller's API client for this request (stdio: one fixed; HTTP: from the bearer key).
Resolver = Callable[[Context], Api]  # type: ignore[type-arg]

INSTRUCTIONS = (
    "Almanac remembers (memories and durable facts), plans (intent → draft plan → approve), "
    "schedules tasks into the calendar (schedule previews first; call again with apply=true) "
    "and reflects on estimates versus reality. Ids in results (#12) are what other tools take."
)


# Tools whose REST routes are admin-only; the rest need write unless marked read-only.
ADMIN_TOOLS = frozenset({"forget_subject"})


def tool_scope(tool: Tool) -> Scope:
    """The key scope a tool needs: the scope of the REST routes it calls."""
    if tool.name in ADMIN_TOOLS:
        return "admin"
    return "read" if tool.annotations and tool.annotations.readOnlyHint else "write"


def filter_tools_by_scope(server: FastMCP, resolve: Resolver) -> None:
    """`tools/list` shows a key only the tools its scope may call.

    The SDK's own handler still runs first, so its cache of tool definitions (used to
    check a call's output) keeps every tool; a hidden tool stays callable and answers the
    API's 403. A key whose scope cannot be learnt (refused, server down) sees every tool,
    and each call answers the API's error."""
    lowlevel = server._mcp_server
    listing = lowlevel.request_handlers[ListToolsRequest]

    async def handler(request: ListToolsRequest | None) -> ServerResult:
        result = await listing(request)
        scope = await resolve(server.get_context()).key_scope()
        if scope is None or not isinstance(result.root, ListToolsResult):
            return result
        tools = [t for t in result.root.tools if scope_allows(scope, tool_scope(t))]
        return ServerResult(result.root.model_copy(update={"tools": tools}))

    lowlevel.request_handlers[ListToolsRequest] = handler


class _Server(FastMCP):
    """FastMCP whose tool calls first pass `check_arguments` (no `true` read as 1, errors
    naming the argument in a short line)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any]
    ) -> Sequence[ContentBlock] | dict[str, Any]:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            check_arguments(tool, arguments)
        return await super().call_tool(name, arguments)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> GetPromptResult:
        """A prompt refused answers "invalid params" naming the argument in a short line:
        the SDK answered code 0 with pydantic's report and its URL (`client_id: -1`, an
        argument the prompt does not take, an unknown prompt)."""
        prompt = self._prompt_manager.get_prompt(name)
        if prompt is None:
            raise McpError(ErrorData(code=INVALID_PARAMS, message=f"unknown prompt {name!r}"))
        missing = sorted(
            a.name for a in prompt.arguments or () if a.required and a.name not in (arguments or {})
        )
        if missing:
            message = f"{name}: {', '.join(missing)}: is required"
            raise McpError(ErrorData(code=INVALID_PARAMS, message=message))
        try:
            return await super().get_prompt(name, arguments)
        except Exception as exc:
            raise _prompt_error(name, exc) from exc

    async def read_resource(self, uri: AnyUrl | str) -> Iterable[ReadResourceContents]:
        """A read that fails answers a JSON-RPC error code (the SDK's was 0 for all)."""
        manager = self._resource_manager
        text = str(uri)
        known = text in {str(r.uri) for r in manager.list_resources()} or any(
            t.matches(text) for t in manager.list_templates()
        )
        if not known:
            raise resources.not_found(text)
        try:
            return await super().read_resource(uri)
        except McpError:
            raise
        except Exception as exc:
            raise resources.read_error(text, exc) from exc


def _prompt_error(name: str, exc: Exception) -> McpError:
    """A failed render as a JSON-RPC error: a refused argument (the prompt's own or the
    API's 400/404/422) "invalid params", the rest an internal error with its words."""
    for cause in resources.causes(exc):
        if isinstance(cause, ValidationError):
            message = f"{name}: {validation_text(cause)}"
            return McpError(ErrorData(code=INVALID_PARAMS, message=message))
        if isinstance(cause, ApiProblem):
            code = INVALID_PARAMS if cause.status in (400, 404, 422) else INTERNAL_ERROR
            return McpError(ErrorData(code=code, message=f"{name}: {cause}"))
    return McpError(ErrorData(code=INTERNAL_ERROR, message=f"{name}: {exc}"))


def build_server(resolve: Resolver, *, http_path: str = "/mcp") -> FastMCP:
    """The server with every tool, resource and prompt; `resolve` gives a call's API."""
    server = _Server(
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
    # Almanac's version, not the MCP library's (serverInfo said 1.30.0 beside /health's).
    server._mcp_server.version = __version__
    for area in (memory, planning, time, review):
        area.register(server, resolve)
    resources.register(server, resolve)
    prompts.register(server, resolve)
    filter_tools_by_scope(server, resolve)
    return server
