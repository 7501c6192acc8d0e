"""Remember names the field of its own body that keeps a memory from becoming the fact its
metadata names; a client's fact about itself and the user's own about a client show to
that client."""

from __future__ import annotations

import httpx

F = "/api/v1/memory/facts"
R = "/api/v1/memory/remember"
ABOUT_2 = {"subject_type": "client", "subject_id": "2", "fact_type": "constraint"}


async def test_a_clients_fact_about_itself_or_the_users_about_a_client_is_kept(
    client: httpx.AsyncClient,
):
    own = await client.post(F, json={**ABOUT_2, "content": "Pays late", "client_id": 2})
    assert own.status_code == 201, own.text
    users = await client.post(F, json={**ABOUT_2, "content": "Prefers email"})
    assert users.status_code == 201, users.text
    listed = {
        who: {
            f["content"]
            for f in (await client.get(F, params={"subject_id": "2", "for_client": who})).json()
        }
        for who in (1, 2)
    }
    # Client 2 sees both; client 1 neither (they are about client 2).
    assert listed == {1: set(), 2: {"Pays late", "Prefers email"}}


async def test_remember_names_the_metadata_field_that_cannot_become_a_fact(
    client: httpx.AsyncClient,
):
    meta = {"subject_type": "user", "subject_id": "x" * 256, "fact_type": "constraint"}
    r = await client.post(R, json={"content": "x", "salience_score": 0.9, "metadata": meta})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["metadata.subject_id"]
    meta = {**meta, "subject_id": "d", "fact_type": "whim"}
    r = await client.post(R, json={"content": "x", "salience_score": 0.9, "metadata": meta})
    assert [e["field"] for e in r.json()["errors"]] == ["metadata.fact_type"]
