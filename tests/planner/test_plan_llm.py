"""POST /plan with an LLM: the real `openai` SDK against the scripted chat double.

Every scripted failure must end in a stored, consistent plan or a clear error with
nothing stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Plan, Workflow
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.planner.conftest import SessionRecorder

PLAN = "/api/v1/planner/plan"
SHED = {"intent": "repaint the garden shed in dark green"}  # nothing in the library matches


def sop(*tasks: tuple[str, float, list[str]]) -> dict[str, Any]:
    return {
        "title": "Repaint the shed",
        "summary": "Two coats",
        "steps": [
            {
                "id": "paint",
                "title": "Paint",
                "tasks": [
                    {"id": i, "title": i.title(), "estimate_hours": h, "depends_on": d}
                    for i, h, d in tasks
                ],
            }
        ],
    }


GOOD = sop(("sand", 2, []), ("prime", 1, ["sand"]), ("coat", 3, ["prime"]))
CYCLE = sop(("sand", 2, ["coat"]), ("prime", 1, ["sand"]), ("coat", 3, ["prime"]))


async def stored(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(Plan)) or 0)


async def test_llm_plan_is_stored_with_the_prompt_version_and_recorded(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, recorder: SessionRecorder
) -> None:
    chat.script(Reply.json(GOOD))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["source"] == "llm"
    assert plan["llm"] == {
        "used": True,
        "model": "fake-chat",
        "prompt_template": "sop_generator",
        "prompt_version": "v1",
        "detail": "planned by fake-chat",
    }
    assert plan["total_hours"] == 6
    (request,) = chat.chat_requests
    system, user = request.messages
    assert "standard operating procedure" in system["content"]  # the seeded template
    assert "repaint the garden shed" in user["content"]
    assert "No workflow in the library matches" in user["content"]
    (record,) = recorder.records
    assert (record.operation, record.prompt_template, record.prompt_version) == (
        "planning",
        "sop_generator",
        "v1",
    )


async def test_the_skeleton_workflow_is_sent_and_its_ids_are_calibrated(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, library: dict[str, Workflow]
) -> None:
    chat.script(Reply.json(sop(("contract", 1, []), ("kickoff", 2, ["contract"]))))
    r = await llm_client.post(PLAN, json={"intent": "onboard a new client, Acme"})
    assert r.status_code == 201, r.text
    assert r.json()["workflow_id"] == library["onboarding"].id
    user = chat.chat_requests[0].messages[1]["content"]
    assert "Client onboarding" in user and '"kickoff"' in user


async def test_malformed_json_is_repaired(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    chat.script(Reply(content='{"title": "Repaint", "steps": [ oops'), Reply.json(GOOD))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201, r.text
    assert len(chat.chat_requests) == 2


async def test_schema_violations_twice_is_a_clear_error_and_nothing_is_stored(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, db_session: AsyncSession
) -> None:
    bad = sop(("sand", -2, []))
    chat.script(Reply.json(bad), Reply.json(bad))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "estimate_hours" in r.text
    assert await stored(db_session) == 0


async def test_a_dependency_cycle_is_sent_back_once_and_repaired(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    chat.script(Reply.json(CYCLE), Reply.json(GOOD))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201, r.text
    assert "after one repair" in r.json()["llm"]["detail"]
    repair = chat.chat_requests[1].messages[-1]["content"]
    assert "dependency cycle" in repair


async def test_a_cycle_that_stays_is_rejected_with_the_problem(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, db_session: AsyncSession
) -> None:
    chat.script(Reply.json(CYCLE), Reply.json(CYCLE))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 502
    body = r.json()
    assert "still inconsistent" in body["detail"]
    assert any("dependency cycle" in e["message"] for e in body["errors"])
    assert await stored(db_session) == 0


async def test_with_a_library_match_a_failing_llm_degrades_to_the_library(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, library: dict[str, Workflow]
) -> None:
    chat.script(Reply.json(CYCLE), Reply.json(CYCLE))
    r = await llm_client.post(PLAN, json={"intent": "onboard a new client"})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["source"] == "library" and plan["degraded"] == ["llm"]
    detail = plan["llm"]["detail"]
    assert plan["llm"]["used"] is False and "planned from the library" in detail
    assert "cycle" in detail


async def test_429s_are_retried_until_an_answer(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    chat.script(Reply.fail(429), Reply.fail(429), Reply.json(GOOD))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201, r.text
    assert len(chat.chat_requests) == 3


async def test_timeouts_end_in_503_and_nothing_stored(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, db_session: AsyncSession
) -> None:
    chat.script(*[Reply.json(GOOD, delay=1.5) for _ in range(3)])
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 503
    assert "LLM" in r.json()["title"]
    assert await stored(db_session) == 0


async def test_the_daily_cap_answers_429_with_retry_after(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, llm_state: AppState
) -> None:
    llm_state.settings.llm.daily_planning_cap = 1
    chat.script(Reply.json(GOOD), Reply.json(GOOD))
    assert (await llm_client.post(PLAN, json=SHED)).status_code == 201
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 429
    assert "daily cap of 1 planning calls" in r.json()["detail"]
    assert 0 < int(r.headers["retry-after"]) <= 86400
    assert len(chat.chat_requests) == 1  # the capped request never reached the model
    usage = (await llm_client.get("/api/v1/planner/llm/usage")).json()
    assert usage["planning_calls_today"] == 1 and usage["daily_planning_cap"] == 1
    assert [(u["operation"], u["calls"]) for u in usage["rows"]] == [("planning", 1)]
    # The same call by prompt template and version.
    prompts = [(p["prompt_template"], p["prompt_version"], p["calls"]) for p in usage["prompts"]]
    assert prompts == [("sop_generator", "v1", 1)], usage["prompts"]


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({**GOOD, "title": "Repaint\x00 the shed"}, "- title:"),
        (json.loads(json.dumps(GOOD).replace("Prime", "Pr\\u0000ime")), "- steps.0.tasks.1.title:"),
    ],
    ids=["plan-title", "task-title"],
)
async def test_a_nul_in_the_llms_text_is_sent_back_and_never_a_500(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    db_session: AsyncSession,
    answer: dict[str, Any],
    where: str,
) -> None:
    # JSON may spell "\u0000": every field fits the schema, and the INSERT of such a plan
    # failed (a 500). The repair request names the field.
    chat.script(Reply.json(answer), Reply.json(answer))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in r.json()["detail"]
    assert await stored(db_session) == 0
    repair = chat.chat_requests[1].messages[-1]["content"]
    assert f"{where} must not contain NUL characters" in repair
    chat.script(Reply.json(answer), Reply.json(GOOD))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201, r.text
    assert await stored(db_session) == 1


async def test_a_task_deadline_already_past_is_sent_back_and_never_stored(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, db_session: AsyncSession
) -> None:
    past = json.loads(json.dumps(GOOD))
    past["steps"][0]["tasks"][2]["deadline"] = "2001-01-01T00:00:00Z"
    chat.script(Reply.json(past), Reply.json(past))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 502, r.text
    assert {"field": "steps[0].tasks[2].deadline", "message": "is already past"} in r.json()[
        "errors"
    ]
    assert await stored(db_session) == 0
