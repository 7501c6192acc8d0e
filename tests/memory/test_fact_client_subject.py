"""A fact filed under one client but about another would show to neither (recall's and the
listing's `for_client` hide each from the other): every way of writing one refuses it with
a 422 naming `client_id`, and writes nothing. Stated with no client, a fact about a client
is the user's own statement about it, and that client sees it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event, Fact

F = "/api/v1/memory/facts"
R = "/api/v1/memory/remember"
ABOUT_2 = {"subject_type": "client", "subject_id": "2", "fact_type": "constraint"}


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def refused(r: httpx.Response, field: str = "client_id") -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    (err,) = [e for e in r.json()["errors"] if e["field"] == field]
    # The problem names the subject the client_id contradicts.
    assert "client 1" in err["message"] and "'2'" in err["message"], err
    return str(err["message"])


@pytest.mark.parametrize("subject_id", ["2", "acme"])
async def test_a_fact_under_one_client_about_another_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, subject_id: str
):
    body = {**ABOUT_2, "subject_id": subject_id, "content": "No calls before ten"}
    r = await client.post(F, json={**body, "client_id": 1})
    assert r.status_code == 422, r.text
    (err,) = r.json()["errors"]
    assert err["field"] == "client_id" and repr(subject_id) in err["message"]
    assert await count(db_session, Fact) == 0


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


async def test_remember_promoting_to_a_contradicting_fact_names_client_id(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    item = {
        "content": "No calls before ten",
        "client_id": 1,
        "salience_score": 0.9,
        "metadata": dict(ABOUT_2),
    }
    message = refused(await client.post(R, json=item))
    assert message.startswith("metadata names a subject but cannot become a fact")
    refused(await client.post(R + "/batch", json={"items": [{"content": "fine"}, item]}))
    assert await count(db_session, Event) == 0 and await count(db_session, Fact) == 0
    # Below the promotion threshold it stays a memory, which client 1's recall need not
    # show as a fact: nothing to refuse.
    low = await client.post(R, json={**item, "salience_score": 0.2})
    assert low.status_code == 201, low.text
    assert low.json()["promoted_to_fact_id"] is None


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


async def test_superseding_a_contradicting_fact_stored_before_is_a_422_not_a_500(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # Such a fact may be stored from before the rule; its successor would be as lost.
    ok = await client.post(F, json={**ABOUT_2, "content": "Pays late", "client_id": 2})
    assert ok.status_code == 201, ok.text
    fact_id = ok.json()["fact"]["id"]
    await db_session.execute(update(Fact).where(Fact.id == fact_id).values(client_id=1))
    r = await client.post(f"{F}/{fact_id}/supersede", json={"content": "Pays on time"})
    refused(r)
