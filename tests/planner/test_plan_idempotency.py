"""POST /plan with an `idempotency_key`: a retry returns the first plan (200) without
planning or calling the LLM again; the key with another request is a 409; two requests
racing with one key store one plan; another caller's key never reaches this caller's plan."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, Workflow
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client, ok
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.planner.conftest import SessionRecorder, add_onboarding
from tests.planner.test_plan_llm import GOOD, SHED, sop

PLAN = "/api/v1/planner/plan"
ACME = {"intent": "Onboard Acme as a new client next week", "idempotency_key": "acme-onboard-1"}


async def plans(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Plan)) or 0)


async def test_a_retry_returns_the_first_plan_and_plans_nothing(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    recorder: SessionRecorder,
    db_session: AsyncSession,
) -> None:
    chat.script(Reply.json(GOOD), Reply.json(GOOD))
    body = {**SHED, "idempotency_key": "shed-2026-12-01"}
    first = await ok(await llm_client.post(PLAN, json=body), 201)
    again = await ok(await llm_client.post(PLAN, json=body), 200)
    assert again["id"] == first["id"]
    assert again["sop"] == first["sop"] and again["llm"] == first["llm"]
    assert len(chat.chat_requests) == 1 and len(recorder.records) == 1  # no second LLM call
    assert await plans(db_session) == 1
    # Without a key every request is a new plan, as before.
    other = await ok(await llm_client.post(PLAN, json=SHED), 201)
    assert other["id"] != first["id"]


async def test_the_key_with_another_request_is_409_naming_it(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    first = await ok(await client.post(PLAN, json=ACME), 201)
    for change in (
        {"intent": "Onboard Initech as a new client next week"},
        {"client_id": 7},
        {"estimates": "library"},
    ):
        r = await client.post(PLAN, json={**ACME, **change})
        assert r.status_code == 409, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["idempotency_key"]
        assert str(first["id"]) in r.json()["detail"]
    # The same request with its deadline written in another offset is the same request.
    when = {"deadline": "2030-03-04T17:00:00+01:00"}
    dated = await ok(await client.post(PLAN, json={**ACME, **when, "idempotency_key": "d"}), 201)
    same = {**ACME, "deadline": "2030-03-04T16:00:00Z", "idempotency_key": "d"}
    assert (await ok(await client.post(PLAN, json=same), 200))["id"] == dated["id"]
    assert await plans(db_session) == 2


BAD_KEYS = ["", "a" * 201, "two words", "tab\there", "nul\x00", "ünïcode", "-leading-dash"]


async def test_a_key_is_bounded_with_a_422_naming_it(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    # The longest key, and one of every character allowed besides letters and digits.
    for key in ["a" * 200, "0-9._:@/+=~x"]:
        await ok(await client.post(PLAN, json={**ACME, "idempotency_key": key}), 201)
    for key in BAD_KEYS:
        r = await client.post(PLAN, json={**ACME, "idempotency_key": key})
        assert r.status_code == 422, (key, r.text)
        assert "idempotency_key" in [e["field"] for e in r.json()["errors"]], r.text
    assert await plans(db_session) == 2


async def test_a_key_of_another_caller_does_not_reach_the_first_plan(
    state: AppState, db_session: AsyncSession, library: dict[str, Workflow]
) -> None:
    app = app_in_transaction(state, db_session)
    async with http_client(app) as admin:
        made = await ok(
            await admin.post("/api/v1/auth/keys", json={"name": "assistant", "scope": "write"}),
            201,
        )
        async with http_client(app, key=made["key"]) as assistant:
            mine = await ok(await admin.post(PLAN, json=ACME), 201)
            # Another caller with the same key and words gets its own plan, never the first.
            theirs = await ok(await assistant.post(PLAN, json=ACME), 201)
            assert theirs["id"] != mine["id"]
            # ... and another request under the key is no 409 naming the first caller's plan.
            initech = {**ACME, "intent": "Onboard Initech as a new client"}
            r = await assistant.post(PLAN, json=initech)
            assert r.status_code == 409, r.text
            detail = r.json()["detail"]
            assert f"plan {theirs['id']}" in detail and f"plan {mine['id']}" not in detail
            # Each caller's retry finds its own plan.
            assert (await ok(await assistant.post(PLAN, json=ACME), 200))["id"] == theirs["id"]
            assert (await ok(await admin.post(PLAN, json=ACME), 200))["id"] == mine["id"]
    assert await plans(db_session) == 2


async def test_two_requests_racing_with_one_key_store_one_plan(
    committed_client: httpx.AsyncClient, committed_state: AppState
) -> None:
    await add_onboarding(committed_client)
    gate = asyncio.Barrier(4)

    async def send() -> httpx.Response:
        await gate.wait()
        return await committed_client.post(PLAN, json=ACME)

    answers = await asyncio.gather(*(send() for _ in range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    async with committed_state.sessionmaker() as session:
        assert await plans(session) == 1


async def test_a_retry_after_the_llm_failed_plans_again(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, db_session: AsyncSession
) -> None:
    """The first request's 502 stored no plan, so the retry with its key plans (no 409)."""
    bad = sop(("sand", -2, []))
    chat.script(Reply.json(bad), Reply.json(bad), Reply.json(GOOD))
    body = {**SHED, "idempotency_key": "shed-after-502"}
    r = await llm_client.post(PLAN, json=body)
    assert r.status_code == 502, r.text
    assert await plans(db_session) == 0
    first = await ok(await llm_client.post(PLAN, json=body), 201)
    assert (await ok(await llm_client.post(PLAN, json=body), 200))["id"] == first["id"]
    assert len(chat.chat_requests) == 3 and await plans(db_session) == 1


async def test_a_retry_after_the_client_was_forgotten_makes_a_new_plan(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    """Forgetting a client deletes its plans with their keys: the key then makes a new plan
    (201), neither the forgotten one back nor a 409."""
    body = {**ACME, "client_id": 42}
    first = await ok(await client.post(PLAN, json=body), 201)
    await ok(await client.delete("/api/v1/memory/subjects/client/42"), 200)
    assert await plans(db_session) == 0
    again = await ok(await client.post(PLAN, json=body), 201)
    assert again["id"] != first["id"] and await plans(db_session) == 1
    other = await client.post(PLAN, json={**body, "intent": "Onboard Initech as a client"})
    assert other.status_code == 409, other.text  # the key is the new plan's now
