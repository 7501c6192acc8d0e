"""A resource read that fails answers a JSON-RPC error code the client can act on, over
both transports with the SDK's own client (the SDK answered code 0 for every failure)."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import McpError
from mcp.types import INVALID_PARAMS

from tests.live_server import LiveServer
from tests.mcp.helpers import session

RESOURCE_NOT_FOUND = -32002  # the MCP specification's (server/resources, Error Handling)


async def refused(s: object, uri: str) -> McpError:
    with pytest.raises(McpError) as info:
        await s.read_resource(uri)  # type: ignore[attr-defined]
    return info.value


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_missing_resource_is_not_found_and_a_bad_id_invalid(
    live_server: LiveServer, transport: str
) -> None:
    async with session(live_server, transport) as s:
        # No such plan: the API's 404, in its words.
        err = await refused(s, "almanac://plans/987654321")
        assert err.error.code == RESOURCE_NOT_FOUND, err.error
        assert "987654321" in err.error.message and "(404)" in err.error.message
        # No resource at that address at all.
        err = await refused(s, "almanac://nothing/here")
        assert err.error.code == RESOURCE_NOT_FOUND, err.error
        assert "almanac://nothing/here" in err.error.message
        # An id that is not one: the argument named, once.
        err = await refused(s, "almanac://plans/abc")
        assert err.error.code == INVALID_PARAMS, err.error
        assert err.error.message.count("plan_id") == 1, err.error.message
        # A readable one still reads.
        assert (await s.read_resource("almanac://facts/user/me")).contents
