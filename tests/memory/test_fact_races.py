"""Supersession racing other writes of its slot: the slot lock leaves one current fact, a
clear 409 for the loser and no deadlock (real commits, calls released by one barrier)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

F = "/api/v1/memory/facts"
ROUNDS = 4
X = "Budget cap 15k"


async def together(*calls: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    gate = asyncio.Barrier(len(calls))

    async def one(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        await gate.wait()
        return await call()

    return list(await asyncio.wait_for(asyncio.gather(*(one(c) for c in calls)), 60))


async def current(api: httpx.AsyncClient, subject_id: str) -> list[dict[str, Any]]:
    listed = await api.get(F, params={"subject_type": "client", "subject_id": subject_id})
    assert listed.status_code == 200, listed.text
    return list(listed.json())


async def fact(api: httpx.AsyncClient, subject_id: str, content: str, **extra: Any) -> int:
    body = {"subject_type": "client", "subject_id": subject_id, "fact_type": "constraint"}
    r = await api.post(F, json={**body, "content": content, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["fact"]["id"])


async def test_a_write_and_a_supersede_of_one_slot_leave_one_current_fact(
    committed_client: httpx.AsyncClient,
) -> None:
    """Without a category: writing X while superseding A by X keeps one X, whichever wins."""
    api = committed_client
    for i in range(ROUNDS):
        subject = f"ws{i}"
        old = await fact(api, subject, "Budget cap 10k")
        body = {"subject_type": "client", "subject_id": subject, "fact_type": "constraint"}
        answers = await together(
            lambda: api.post(F, json={**body, "content": X}),  # noqa: B023
            lambda: api.post(f"{F}/{old}/supersede", json={"content": X}),  # noqa: B023
        )
        assert [r.status_code for r in answers] == [
            200 if r.json()["duplicate"] else 201 for r in answers
        ], [r.text for r in answers]
        assert [f["content"] for f in await current(api, subject)] == [X]
        assert answers[1].json()["superseded_id"] == old


async def test_two_supersedes_of_one_fact_one_wins_one_409(
    committed_client: httpx.AsyncClient,
) -> None:
    api = committed_client
    for i in range(ROUNDS):
        for extra in ({}, {"category": "budget"}):
            subject = f"ss{i}{len(extra)}"
            old = await fact(api, subject, "a", **extra)
            answers = await together(
                lambda: api.post(f"{F}/{old}/supersede", json={"content": "b"}),  # noqa: B023
                lambda: api.post(f"{F}/{old}/supersede", json={"content": "c"}),  # noqa: B023
            )
            codes = sorted(r.status_code for r in answers)
            assert codes == [201, 409], [r.text for r in answers]
            lost = next(r for r in answers if r.status_code == 409)
            assert lost.headers["content-type"].startswith("application/problem+json")
            assert f"fact {old}" in lost.json()["detail"]
            won = next(r for r in answers if r.status_code == 201).json()["fact"]
            assert [f["id"] for f in await current(api, subject)] == [won["id"]]


async def test_a_write_racing_a_supersede_with_a_category_never_deadlocks(
    committed_client: httpx.AsyncClient,
) -> None:
    """With a category both close the current fact: one goes first, none fails with a 500."""
    api = committed_client
    for i in range(ROUNDS):
        subject = f"wc{i}"
        old = await fact(api, subject, "a", category="budget")
        body = {"subject_type": "client", "subject_id": subject, "fact_type": "constraint"}
        answers = await together(
            lambda: api.post(F, json={**body, "category": "budget", "content": "x"}),  # noqa: B023
            lambda: api.post(f"{F}/{old}/supersede", json={"content": "y"}),  # noqa: B023
        )
        assert answers[0].status_code == 201, answers[0].text
        assert answers[1].status_code in (201, 409), answers[1].text
        assert len(await current(api, subject)) == 1


async def test_superseding_by_a_statement_the_slot_holds_keeps_that_one(
    committed_client: httpx.AsyncClient,
) -> None:
    """The order the race above may take: X written first, then A superseded by X."""
    api = committed_client
    old = await fact(api, "held", "Budget cap 10k")
    kept = await fact(api, "held", X)
    r = await api.post(f"{F}/{old}/supersede", json={"content": f"  {X.upper()} "})
    assert r.status_code == 200, r.text  # nothing created
    assert r.json()["duplicate"] is True and r.json()["superseded_id"] == old
    assert r.json()["fact"]["id"] == kept
    assert [f["id"] for f in await current(api, "held")] == [kept]


async def test_two_writes_of_one_owners_slot_leave_one_current_fact(
    committed_client: httpx.AsyncClient,
) -> None:
    """A slot is also whose the fact is: one about client:N stated without a client and one
    stated for client N are the same owner's, so their writes share the slot lock (without
    a category no unique index stands behind it) and the same words stay one fact."""
    api = committed_client
    for i in range(ROUNDS):
        subject = str(9100 + i)
        body = {"subject_type": "client", "subject_id": subject, "fact_type": "constraint"}
        answers = await together(
            lambda: api.post(F, json={**body, "content": X}),  # noqa: B023
            lambda: api.post(F, json={**body, "content": X, "client_id": int(subject)}),  # noqa: B023
        )
        assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
        assert [f["content"] for f in await current(api, subject)] == [X]
        assert sorted(r.json()["duplicate"] for r in answers) == [False, True]
