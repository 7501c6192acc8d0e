"""The `prepare_client_meeting` prompt briefs on one client: a fact another client holds
about that client is the other's and stays out, as recall and the context block leave it."""

from __future__ import annotations

import json

import httpx

from almanac.mcp.api import Api
from almanac.mcp.server import build_server

F = "/api/v1/memory/facts"


async def test_the_briefing_leaves_out_another_clients_fact_about_the_client(
    client: httpx.AsyncClient,
) -> None:
    about_7 = {"subject_type": "client", "subject_id": "7", "fact_type": "identity"}
    theirs = await client.post(
        F, json={**about_7, "content": "Beta Corp sees Acme as its rival", "client_id": 8}
    )
    own = await client.post(F, json={**about_7, "content": "Acme is a bakery", "client_id": 7})
    assert theirs.status_code == own.status_code == 201, theirs.text
    server = build_server(lambda ctx: Api(client))
    prompt = await server.get_prompt("prepare_client_meeting", {"client_id": "7"})
    body = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "Acme is a bakery" in body
    assert "Beta Corp" not in body


async def test_the_facts_resource_about_a_client_leaves_out_another_clients_fact(
    client: httpx.AsyncClient,
) -> None:
    # The resource a meeting's preparation reads beside the prompt: the same scope.
    about_7 = {"subject_type": "client", "subject_id": "7", "fact_type": "identity"}
    theirs = await client.post(
        F, json={**about_7, "content": "Beta Corp sees Acme as its rival", "client_id": 8}
    )
    own = await client.post(F, json={**about_7, "content": "Acme is a bakery"})
    assert theirs.status_code == own.status_code == 201, theirs.text
    server = build_server(lambda ctx: Api(client))
    (part,) = await server.read_resource("almanac://facts/client/7")
    listed = [f["content"] for f in json.loads(part.content)]
    assert listed == ["Acme is a bakery"]
