"""Whose a fact or memory is, its `client_id` says first: client 8's fact (or memory)
about client 7 is client 8's, shown to client 8 and never to client 7 nor any other
client, in fact listings, recall, prompts and plan context."""

from __future__ import annotations

import httpx
import pytest

from almanac.mcp.api import Api
from almanac.mcp.server import build_server
from tests.conftest import ok
from tests.planner.conftest import add_onboarding

F = "/api/v1/memory/facts"
R = "/api/v1/memory/remember"
Q = "/api/v1/memory/recall"
ABOUT_7 = {"subject_type": "client", "subject_id": "7", "fact_type": "preference"}
RIVAL = "Beta Corp sees Acme as its rival in wholesale sourdough"


async def listed(client: httpx.AsyncClient, for_client: int, **params: str) -> set[str]:
    r = await client.get(F, params={**params, "for_client": for_client})
    assert r.status_code == 200, r.text
    return {f["content"] for f in r.json()}


async def recalled(client: httpx.AsyncClient, for_client: int, kind: str) -> set[str]:
    params = {"query": "Beta Corp rival wholesale sourdough", "for_client": for_client}
    r = await client.get(Q, params={**params, "kinds": kind})
    assert r.status_code == 200, r.text
    return {h["content"] for h in r.json()["results"]}


async def test_a_clients_fact_about_another_client_is_its_own_and_no_one_elses(
    client: httpx.AsyncClient,
):
    theirs = await client.post(F, json={**ABOUT_7, "content": RIVAL, "client_id": 8})
    assert theirs.status_code == 201, theirs.text
    # Listings: by subject and by type (a plan's preferences), for each client.
    for who, seen in ((8, True), (7, False), (9, False)):
        assert (RIVAL in await listed(client, who, subject_id="7")) is seen, who
        assert (RIVAL in await listed(client, who, fact_type="preference")) is seen, who
        assert (RIVAL in await recalled(client, who, "fact")) is seen, who


async def test_a_clients_memory_about_another_client_is_its_own_and_no_one_elses(
    client: httpx.AsyncClient,
):
    body = {
        "content": RIVAL,
        "salience_score": 0.3,  # under the bar for a fact: a memory alone
        "client_id": 8,
        "metadata": {"subject_type": "client", "subject_id": "7"},
    }
    await ok(await client.post(R, json=body), 201)
    for who, seen in ((8, True), (7, False), (9, False)):
        assert (RIVAL in await recalled(client, who, "event")) is seen, who


async def test_the_users_own_fact_about_a_client_stays_that_clients(
    client: httpx.AsyncClient,
):
    # Without a client id, the subject still says whose it is.
    await ok(await client.post(F, json={**ABOUT_7, "content": RIVAL}), 201)
    for who, seen in ((7, True), (8, False)):
        assert (RIVAL in await listed(client, who, fact_type="preference")) is seen, who
        assert (RIVAL in await recalled(client, who, "fact")) is seen, who


@pytest.mark.parametrize(("subject_type", "subject_id"), [("Client", "7"), (" client", " 7 ")])
async def test_a_client_subject_written_loosely_is_that_clients(
    client: httpx.AsyncClient, subject_type: str, subject_id: str
):
    # "Client"/"7" was no client subject: the user's own, shown to every client (8 too);
    # "client"/" 7 " was client " 7"'s, shown to none (7 neither).
    about = {"subject_type": subject_type, "subject_id": subject_id}
    r = await client.post(F, json={**about, "fact_type": "preference", "content": RIVAL})
    assert r.status_code == 201, r.text
    assert (r.json()["fact"]["subject_type"], r.json()["fact"]["subject_id"]) == ("client", "7")
    memory = {"content": RIVAL, "salience_score": 0.3, "metadata": about}
    await ok(await client.post(R, json=memory), 201)
    for who, seen in ((7, True), (8, False)):
        assert (RIVAL in await listed(client, who, fact_type="preference")) is seen, who
        assert (RIVAL in await recalled(client, who, "fact")) is seen, who
        assert (RIVAL in await recalled(client, who, "event")) is seen, who
    # Asked for loosely too, the subject is found (its id as written included).
    for asked in ("7", subject_id):
        r = await client.get(F, params={"subject_type": subject_type, "subject_id": asked})
        assert [f["content"] for f in r.json()] == [RIVAL], (asked, r.text)


async def test_client_8s_briefing_about_client_7_never_shows_to_7(
    client: httpx.AsyncClient,
) -> None:
    await ok(await client.post(F, json={**ABOUT_7, "content": RIVAL, "client_id": 8}), 201)
    server = build_server(lambda ctx: Api(client))
    (part,) = await server.read_resource("almanac://facts/client/7")
    assert RIVAL not in part.content  # type: ignore[union-attr]
    prompt = await server.get_prompt("prepare_client_meeting", {"client_id": "7"})
    assert RIVAL not in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_a_plan_for_client_8_sees_its_fact_about_client_7_and_one_for_7_does_not(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    await add_onboarding(api)
    await ok(await api.post(F, json={**ABOUT_7, "content": RIVAL, "client_id": 8}), 201)
    for who, seen in ((8, True), (7, False)):
        plan = await ok(
            await api.post(
                "/api/v1/planner/plan",
                json={"intent": "onboard a new client", "client_id": who},
            ),
            201,
        )
        assert any(RIVAL in c["content"] for c in plan["context"]) is seen, who


@pytest.mark.parametrize(
    "about",
    [
        {"subject_type": "Client", "subject_id": 7},  # a number: left as written
        {"subject_type": "client", "subject_id": "07"},  # a leading zero: client 07
        {"subject_type": " CLIENT ", "subject_id": 7},
        # Pasted with an invisible mark, or in other digits: client 7 all the same (it was
        # no client's, and outlived the forget).
        {"subject_type": "client", "subject_id": "7\u200b"},
        {"subject_type": "client", "subject_id": "\u200e7"},
        {"subject_type": "client", "subject_id": "\uff17"},  # full-width 7
        {"subject_type": "client", "subject_id": "\u0667"},  # Arabic-Indic 7
    ],
)
async def test_a_memorys_client_written_as_a_number_or_with_a_zero_is_that_clients(
    client: httpx.AsyncClient, about: dict[str, object]
):
    """Only a text id was made canonical: "Client" with the number 7 was the user's own,
    recalled into every client's plans (8's too), and forgetting client 7 left it; "07"
    was shown to no client and outlived the forget too."""
    memory = {"content": RIVAL, "salience_score": 0.3, "metadata": about}
    stored = await ok(await client.post(R, json=memory), 201)
    for who, seen in ((7, True), (8, False)):
        assert (RIVAL in await recalled(client, who, "event")) is seen, (who, about)
    r = await client.get(f"/api/v1/memory/events/{stored['id']}")
    assert r.json()["metadata"]["subject_id"] == "7", r.text
    await ok(await client.delete("/api/v1/memory/subjects/client/7"), 200)
    gone = await client.get(f"/api/v1/memory/events/{stored['id']}")
    assert gone.status_code == 404, gone.text


async def test_a_subject_whose_id_holds_a_slash_can_be_forgotten(client: httpx.AsyncClient):
    """Stored as written ("ana/b"), but DELETE /subjects/person/ana%2Fb was a bare 404: the
    slash, decoded before routing, made a path no route matched."""
    about = {"subject_type": "person", "subject_id": "ana/b", "fact_type": "identity"}
    fact = await ok(await client.post(F, json={**about, "content": "Ana is CTO"}), 201)
    out = await ok(await client.delete("/api/v1/memory/subjects/person/ana%2Fb"), 200)
    assert out["facts_deleted"] == 1, out
    gone = await client.get(F, params={"subject_type": "person", "subject_id": "ana/b"})
    assert gone.json() == [] and fact["fact"]["id"]


@pytest.mark.parametrize("kind", ["fact", "event"])
async def test_recall_of_one_client_finds_what_is_about_it_without_a_client_id(
    client: httpx.AsyncClient, kind: str
):
    """`recall --client 7` matched `client_id` alone: a fact or memory about client 7
    written without one (whose it is, as every scope reads it) was never found."""
    about = {"subject_type": "client", "subject_id": "7"}
    if kind == "fact":
        await ok(await client.post(F, json={**ABOUT_7, "content": RIVAL}), 201)
    else:
        body = {"content": RIVAL, "salience_score": 0.3, "metadata": about}
        await ok(await client.post(R, json=body), 201)
    params = {"query": "Beta Corp rival wholesale sourdough", "kinds": kind}
    for who, seen in ((7, True), (8, False)):
        r = await client.get(Q, params={**params, "client_id": who})
        assert r.status_code == 200, r.text
        assert (RIVAL in {h["content"] for h in r.json()["results"]}) is seen, who


async def test_recall_of_one_client_still_leaves_another_clients_fact_about_it(
    client: httpx.AsyncClient,
):
    await ok(await client.post(F, json={**ABOUT_7, "content": RIVAL, "client_id": 8}), 201)
    params = {"query": "Beta Corp rival wholesale sourdough", "kinds": "fact"}
    for who, seen in ((7, False), (8, True)):
        r = await client.get(Q, params={**params, "client_id": who})
        assert (RIVAL in {h["content"] for h in r.json()["results"]}) is seen, who
