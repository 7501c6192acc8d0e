"""MCP memory tools in-process against the real app (the test's transaction): the same
client filter as REST, and an honest answer when a subject had nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from almanac.state import AppState

FACTS = "/api/v1/memory/facts"


async def tool(client: httpx.AsyncClient, name: str, args: dict[str, Any]) -> CallToolResult:
    out = await build_server(lambda ctx: Api(client)).call_tool(name, args)
    assert isinstance(out, CallToolResult), out
    return out


def text(out: CallToolResult) -> str:
    return "\n".join(c.text for c in out.content if isinstance(c, TextContent))


async def add_fact(client: httpx.AsyncClient, content: str, client_id: int | None) -> int:
    body = {"subject_type": "user", "subject_id": "me", "fact_type": "preference"}
    body |= {"content": content, "category": content[:12], "client_id": client_id}
    r = await client.post(FACTS, json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["fact"]["id"])


@pytest.mark.parametrize("for_client", [None, 0, 41, 42])
async def test_get_facts_filters_by_client_as_rest_does(
    client: httpx.AsyncClient, for_client: int | None
) -> None:
    """get_facts had no client filter: a chat for client 41 listed client 42's facts."""
    await add_fact(client, "own: mornings are for writing", None)
    await add_fact(client, "c41: Acme wants Friday reports", 41)
    await add_fact(client, "c42: Globex forbids calls on Monday", 42)
    params = {} if for_client is None else {"for_client": for_client}
    rest = (await client.get(FACTS, params=params)).json()
    args = {} if for_client is None else {"for_client": for_client}
    out = await tool(client, "get_facts", args)
    assert not out.isError, text(out)
    assert out.structuredContent is not None
    got = sorted(f["content"] for f in out.structuredContent["items"])
    assert got == sorted(f["content"] for f in rest)
    prefixes = {c.split(":")[0] for c in got}
    expected = {None: {"own", "c41", "c42"}, 0: {"own"}, 41: {"own", "c41"}, 42: {"own", "c42"}}
    assert prefixes == expected[for_client]


async def test_get_facts_for_client_is_bounded(client: httpx.AsyncClient) -> None:
    with pytest.raises(ToolError, match="for_client"):
        await tool(client, "get_facts", {"for_client": -1})


@pytest.mark.parametrize("subject_id", ["abc", "-1", "999999"])
async def test_forgetting_a_subject_with_nothing_stored_says_so(
    client: httpx.AsyncClient, subject_id: str
) -> None:
    """`client:abc` answered "forgot client:abc: 0 memories, 0 facts", as if it had been
    there. REST accepts any subject (memories tagged client/acme are forgotten by it), so
    the tool does too, and says that nothing was stored."""
    rest = await client.delete(f"/api/v1/memory/subjects/client/{subject_id}")
    assert rest.status_code == 200 and rest.json()["events_deleted"] == 0
    out = await tool(client, "forget_subject", {"subject_type": "client", "subject_id": subject_id})
    assert not out.isError
    assert text(out).startswith(f"nothing stored about client:{subject_id}; nothing deleted")
    assert ("client ids are numbers" in text(out)) == (not subject_id.isdigit())


async def test_forgetting_a_stored_subject_counts_it(client: httpx.AsyncClient) -> None:
    meta = {"subject_type": "client", "subject_id": "acme"}
    r = await client.post("/api/v1/memory/remember", json={"content": "Acme", "metadata": meta})
    assert r.status_code == 201
    out = await tool(client, "forget_subject", {"subject_type": "client", "subject_id": "acme"})
    assert text(out) == "forgot client:acme: 1 memories, 0 facts"


async def test_recall_shows_times_in_the_users_zone(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """recall showed "2026-12-02 03:44 UTC" for a note made at 22:44 in New York on
    1 December: MCP did not know the zone the dashboard shows times in."""
    state.settings.timezone = "America/New_York"
    body = {"content": "called Acme about the audit", "occurred_at": "2026-12-02T03:44:00Z"}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    out = await tool(client, "recall", {"query": "Acme audit call", "kinds": ["event"]})
    assert "2026-12-01 22:44 America/New_York (relevance 1.00) called Acme" in text(out), text(out)
