"""A client's data never reaches another client's listing: with two clients' memories,
facts, documents, plans and tasks (and the user's own), every REST listing that takes a
client filter returns that client's data and none of the other's."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, Task

# A word only each owner's data carries; every text also carries the shared words, so an
# unfiltered search would find them all.
MARK = {41: "aurora", 42: "borealis", None: "zenith"}
SHARED = "quarterly launch budget review"


async def seed(client: httpx.AsyncClient, session: AsyncSession) -> None:
    for owner, mark in MARK.items():
        text = f"{mark} {SHARED}"
        r = await client.post(
            "/api/v1/memory/remember",
            json={"content": f"memory {text}", "client_id": owner, "salience_score": 0.5},
        )
        assert r.status_code == 201, r.text
        fact = {"subject_type": "user", "subject_id": "me", "fact_type": "constraint"}
        fact |= {"content": f"fact {text}", "category": mark, "client_id": owner}
        r = await client.post("/api/v1/memory/facts", json=fact)
        assert r.status_code == 201, r.text
        form = {} if owner is None else {"client_id": str(owner)}
        files = {"file": (f"{mark}.md", f"# {mark} notes\n\ndocument {text}\n", "text/markdown")}
        r = await client.post("/api/v1/memory/documents", data=form, files=files)
        assert r.status_code == 201, r.text
        plan = Plan(plan_title=f"{mark} plan", intent="test", sop={"tasks": []}, status="approved")
        plan.client_id = owner
        session.add(plan)
        await session.flush()
        session.add(
            Task(
                plan_id=plan.id,
                plan_task_key="work",
                title=f"{mark} task {SHARED}",
                status="todo",
                estimate_hours=1.0,
                priority=2,
                client_id=owner,
            )
        )
        await session.flush()


# listing: (path, its other parameters, the client filter, whether the user's own data
# (no client) belongs in it: for_client promises it)
LISTINGS = {
    "recall client_id": ("/api/v1/memory/recall", {"query": SHARED}, "client_id", False),
    "recall for_client": ("/api/v1/memory/recall", {"query": SHARED}, "for_client", True),
    "context": ("/api/v1/memory/context", {"query": SHARED}, "client_id", None),
    "facts for_client": ("/api/v1/memory/facts", {}, "for_client", True),
    "documents": ("/api/v1/memory/documents", {}, "client_id", False),
    "plans": ("/api/v1/planner/plans", {}, "client_id", False),
    "tasks": ("/api/v1/planner/tasks", {}, "client_id", False),
}


@pytest.mark.parametrize("listing", list(LISTINGS))
async def test_each_client_filter_returns_only_that_clients_data(
    client: httpx.AsyncClient, db_session: AsyncSession, listing: str
) -> None:
    await seed(client, db_session)
    path, params, name, own = LISTINGS[listing]
    r = await client.get(path, params=params)  # unfiltered: both clients are there to leak
    assert r.status_code == 200, r.text
    assert MARK[41] in r.text.lower() and MARK[42] in r.text.lower(), r.text[:500]
    for mine, theirs in ((41, 42), (42, 41)):
        r = await client.get(path, params={**params, name: mine})
        assert r.status_code == 200, r.text
        body = json.dumps(r.json()).lower()
        assert MARK[mine] in body, f"{listing} for client {mine} lost its own data: {body[:500]}"
        assert MARK[theirs] not in body, f"{listing} for client {mine} shows client {theirs}'s"
        if own is not None:
            assert (MARK[None] in body) == own, f"{listing}: the user's own data: {body[:500]}"


# Names a caller may send for a listing's client filter that are not its filter: each was
# ignored by some listing, whose 200 then held every client's data as if filtered.
MISNAMED = {
    "recall client_id": ("clientId", "client"),
    "context": ("for_client", "client"),
    "facts for_client": ("client_id", "client"),
    "documents": ("for_client", "client"),
    "plans": ("for_client", "client"),
    "tasks": ("for_client", "clientid"),
}


@pytest.mark.parametrize(
    ("listing", "wrong"), [(k, w) for k, names in MISNAMED.items() for w in names]
)
async def test_a_misnamed_client_filter_is_a_422_naming_it(
    client: httpx.AsyncClient, listing: str, wrong: str
) -> None:
    path, params, _, _ = LISTINGS[listing]
    r = await client.get(path, params={**params, wrong: 41})
    assert r.status_code == 422, f"{listing} ?{wrong}=41: {r.status_code} {r.text[:300]}"
    assert wrong in r.text
