"""GET /api/v1/memory/context: the prompt-ready block, its sections and ids, the token
budget counted with the shipped tokenizer, client isolation, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.context.service import Section, pack
from almanac.memory.tokens import token_counter
from almanac.models import Plan, SchedulerRun, Task

C = "/api/v1/memory/context"


async def remember(client: httpx.AsyncClient, content: str, **kw: object) -> dict:
    r = await client.post("/api/v1/memory/remember", json={"content": content, **kw})
    assert r.status_code == 201, r.text
    return r.json()


async def seed_agenda(session: AsyncSession, client_id: int) -> tuple[int, int]:
    plan = Plan(plan_title="Audit", intent="audit", sop={}, status="scheduled",
                client_id=client_id)  # fmt: skip
    session.add(plan)
    await session.flush()
    open_task = Task(plan_id=plan.id, plan_task_key="interviews", title="Stakeholder interviews",
                     estimate_hours=3, client_id=client_id)  # fmt: skip
    done = Task(plan_id=plan.id, plan_task_key="kickoff", title="Kickoff", estimate_hours=1,
                status="done", client_id=client_id)  # fmt: skip
    session.add_all([open_task, done])
    start = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    blocks = [
        {"task_key": "interviews", "chunk": 0, "start": start.isoformat(),
         "end": (start + timedelta(hours=2)).isoformat()},
        {"task_key": "kickoff", "chunk": 0, "start": past.isoformat(),
         "end": (past + timedelta(hours=1)).isoformat()},
    ]  # fmt: skip
    session.add(SchedulerRun(plan_id=plan.id, schedule_blocks=blocks, status="scheduled",
                             client_id=client_id))  # fmt: skip
    await session.flush()
    return int(plan.id), int(open_task.id)


async def test_block_has_every_section_with_ids_and_dates(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    pref = await remember(
        client,
        "Prefers deep work before noon",
        salience_score=0.9,
        metadata={
            "subject_type": "user",
            "subject_id": "me",
            "fact_type": "preference",
            "category": "deep_work",
        },
    )
    acme = await remember(client, "Acme's CFO asked for the audit findings by Friday",
                          client_id=7, occurred_at="2026-11-20T10:00:00+00:00")  # fmt: skip
    other = await remember(client, "Beta Corp's audit findings are confidential", client_id=8)
    plan_id, task_id = await seed_agenda(db_session, 7)
    r = await client.get(C, params={"query": "audit findings", "client_id": 7})
    assert r.status_code == 200, r.text
    out = r.json()
    text = out["text"]
    assert f"[fact #{pref['promoted_to_fact_id']}] Prefers deep work before noon" in text
    assert f"[memory #{acme['id']}, 2026-11-20]" in text
    assert f"[task #{task_id}, plan #{plan_id}] Stakeholder interviews (3 h" in text
    assert f"[block plan{plan_id}-interviews-0]" in text and "Stakeholder interviews" in text
    assert "Kickoff" not in text  # done tasks and past blocks are not "next"
    # another client's data (ids compared whole: "#3" is a prefix of "#38")
    assert "Beta Corp" not in text and f"[memory #{other['id']}," not in text
    assert out["sections"]["memories"] == [f"event:{acme['id']}"]
    assert out["sections"]["open_tasks"] == [f"task:{task_id}"]
    assert len(out["sections"]["next_blocks"]) == 1
    assert out["tokens"] == token_counter().count(text) <= out["token_budget"] == 1000


async def test_budget_is_respected_and_every_section_gets_its_best_line_first(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    for i in range(40):
        await remember(client, f"Audit note {i}: the Acme website has slow pages and "
                       "broken links on the pricing section", client_id=7)  # fmt: skip
    _, task_id = await seed_agenda(db_session, 7)
    counter = token_counter()
    sizes = []
    for budget in (60, 150, 400, 2000):
        out = (await client.get(C, params={"query": "acme website audit", "client_id": 7,
                                           "token_budget": budget})).json()  # fmt: skip
        assert counter.count(out["text"]) == out["tokens"] <= budget
        sizes.append(out["tokens"])
        if budget >= 150:  # room for one line each: the task is there before more memories
            assert f"task #{task_id}" in out["text"]
    assert sizes == sorted(sizes) and sizes[-1] > 400  # fills what it is given
    assert out["omitted"] == 0 or out["tokens"] > 1500


def test_pack_keeps_rank_order_and_round_robins() -> None:
    counter = token_counter()
    sections = [
        Section("Facts", [(f"f{i}", f"- fact number {i} " + "word " * 5) for i in range(6)]),
        Section("Memories", [(f"m{i}", f"- memory number {i} " + "word " * 5) for i in range(6)]),
    ]
    text, used, ids, omitted = pack("# header", sections, 60, counter)
    assert used == counter.count(text) <= 60
    assert ids["facts"][:1] == ["f0"] and ids["memories"][:1] == ["m0"]
    assert ids["facts"] == [f"f{i}" for i in range(len(ids["facts"]))]  # no gaps
    assert omitted == 12 - len(ids["facts"]) - len(ids["memories"]) > 0


async def test_bad_input_is_a_clear_422(client: httpx.AsyncClient) -> None:
    for params, field in (
        ({"query": "x", "token_budget": 10}, "token_budget"),
        ({"query": "x", "token_budget": 10**6}, "token_budget"),
        ({"query": "   "}, "query"),
        ({"query": "x", "client_id": 0}, "client_id"),
        ({}, "query"),
    ):
        r = await client.get(C, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in r.json()["errors"]]


async def test_another_clients_fact_about_this_client_stays_out(
    client: httpx.AsyncClient,
) -> None:
    """A fact client 8 holds about client 7 is client 8's: recall and planning for client
    7 leave it out (`for_client`), and so does client 7's context block."""
    about_7 = {"subject_type": "client", "subject_id": "7", "fact_type": "identity"}
    theirs = await client.post(
        "/api/v1/memory/facts",
        json={**about_7, "content": "Beta Corp sees Acme as its rival", "client_id": 8},
    )
    own = await client.post(
        "/api/v1/memory/facts", json={**about_7, "content": "Acme is a bakery", "client_id": 7}
    )
    assert theirs.status_code == own.status_code == 201, theirs.text
    r = await client.get(C, params={"query": "weekly status", "client_id": 7})
    assert r.status_code == 200, r.text
    ids = r.json()["sections"]["facts"]
    assert f"fact:{own.json()['fact']['id']}" in ids
    assert f"fact:{theirs.json()['fact']['id']}" not in ids
    assert "Beta Corp" not in r.json()["text"]
