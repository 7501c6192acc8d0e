"""A fact's slot is also whose it is: one client's fact never supersedes (or is taken for
a duplicate of) another client's, nor the user's own, which every client's plans read."""

from __future__ import annotations

import httpx

F = "/api/v1/memory/facts"
HOURS = {"subject_type": "user", "subject_id": "me", "fact_type": "preference"}


async def current(client: httpx.AsyncClient, for_client: int) -> list[str]:
    got = await client.get(F, params={"subject_id": "me", "for_client": for_client})
    assert got.status_code == 200, got.text
    return sorted(f["content"] for f in got.json())


async def test_a_clients_fact_does_not_close_another_clients_in_the_same_slot(
    client: httpx.AsyncClient,
):
    a = await client.post(
        F, json={**HOURS, "category": "hours", "content": "Stop at 3 pm", "client_id": 101}
    )
    b = await client.post(
        F, json={**HOURS, "category": "hours", "content": "Stop at 6 pm", "client_id": 202}
    )
    assert a.status_code == b.status_code == 201, b.text
    assert b.json()["superseded_id"] is None
    assert b.json()["fact"]["supersedes_id"] is None
    assert await current(client, 101) == ["Stop at 3 pm"]
    assert await current(client, 202) == ["Stop at 6 pm"]
    # Within one client the slot still supersedes.
    c = await client.post(
        F, json={**HOURS, "category": "hours", "content": "Stop at 4 pm", "client_id": 101}
    )
    assert c.json()["superseded_id"] == a.json()["fact"]["id"]
    assert await current(client, 101) == ["Stop at 4 pm"]
    assert await current(client, 202) == ["Stop at 6 pm"]


async def test_a_clients_fact_does_not_close_the_users_own(client: httpx.AsyncClient):
    own = await client.post(F, json={**HOURS, "category": "hours", "content": "Work 9-5"})
    mine = await client.post(
        F, json={**HOURS, "category": "hours", "content": "Stop at 6 pm", "client_id": 202}
    )
    assert mine.json()["superseded_id"] is None
    assert await current(client, 101) == ["Work 9-5"]
    assert await current(client, 202) == ["Stop at 6 pm", "Work 9-5"]
    again = await client.post(F, json={**HOURS, "category": "hours", "content": "Work 8-4"})
    assert again.json()["superseded_id"] == own.json()["fact"]["id"]
    assert await current(client, 202) == ["Stop at 6 pm", "Work 8-4"]


async def test_the_same_words_for_another_client_are_that_clients_fact(
    client: httpx.AsyncClient,
):
    a = await client.post(F, json={**HOURS, "content": "No calls on Fridays", "client_id": 101})
    b = await client.post(F, json={**HOURS, "content": "No calls on Fridays", "client_id": 202})
    assert b.status_code == 201, b.text
    assert b.json()["duplicate"] is False
    assert b.json()["fact"]["id"] != a.json()["fact"]["id"]
    assert b.json()["fact"]["client_id"] == 202
    assert await current(client, 202) == ["No calls on Fridays"]


async def test_a_clients_fact_supersedes_one_about_it_stated_without_a_client(
    client: httpx.AsyncClient,
):
    about = {"subject_type": "client", "subject_id": "101", "fact_type": "preference"}
    old = await client.post(F, json={**about, "category": "meetings", "content": "Mornings"})
    new = await client.post(
        F, json={**about, "category": "meetings", "content": "After 2 pm", "client_id": 101}
    )
    assert new.json()["superseded_id"] == old.json()["fact"]["id"]
