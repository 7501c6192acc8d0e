"""What comes back from the LLM is judged, bounded in time and capped only when it costs."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import LLMCall, Plan, Workflow
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply

PLAN = "/api/v1/planner/plan"
ONBOARD = {"intent": "onboard a new client"}  # matches the 4-task onboarding workflow
SHED = {"intent": "repaint the garden shed in dark green"}  # matches nothing


def one_task(title: str, hours: float) -> dict[str, Any]:
    task = {"id": "t1", "title": title, "estimate_hours": hours}
    return {"title": title, "steps": [{"id": "s1", "title": title, "tasks": [task]}]}


def shed_plan() -> dict[str, Any]:
    tasks = [
        {"id": "sand", "title": "Sand the walls", "estimate_hours": 2},
        {"id": "prime", "title": "Prime", "estimate_hours": 1, "depends_on": ["sand"]},
    ]
    return {"title": "Shed", "steps": [{"id": "p", "title": "Paint", "tasks": tasks}]}


async def calls(db_session: AsyncSession) -> list[LLMCall]:
    return list((await db_session.scalars(select(LLMCall).order_by(LLMCall.id))).all())


async def test_a_collapsed_plan_repeating_the_intent_falls_back_to_the_library(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    library: dict[str, Workflow],
    db_session: AsyncSession,
) -> None:
    # What SmolLM2-135M did: one task that repeats the title, for a 4-task workflow.
    chat.script(Reply.json(one_task("Onboard a new client", 4.35)))
    r = await llm_client.post(PLAN, json=ONBOARD)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["source"] == "library" and plan["llm"]["used"] is False
    assert len(plan["sop"]["steps"][0]["tasks"]) + len(plan["sop"]["steps"][1]["tasks"]) == 4
    assert "rejected" in plan["llm"]["detail"] and "only repeat the intent" in plan["notes"][0]
    (call,) = await calls(db_session)
    assert call.outcome == "rejected" and call.reached_model
    assert call.rejection is not None
    assert any("dropped most of the work" in r for r in call.rejection)
    # Nothing of the nonsense was stored or remembered as the LLM's work.
    row = await db_session.scalar(select(Plan).where(Plan.id == plan["id"]))
    assert row is not None and row.metadata_["source"] == "library"


async def test_duplicate_tasks_and_wild_hours_are_rejected(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    library: dict[str, Workflow],
    db_session: AsyncSession,
) -> None:
    tasks = [{"id": f"t{i}", "title": "Kickoff call", "estimate_hours": 40} for i in range(1, 4)]
    chat.script(Reply.json({"title": "x", "steps": [{"id": "s", "title": "s", "tasks": tasks}]}))
    r = await llm_client.post(PLAN, json=ONBOARD)
    assert r.status_code == 201, r.text
    (call,) = await calls(db_session)
    assert call.rejection is not None
    reasons = " | ".join(call.rejection)
    assert "more than once" in reasons and "more than 3x apart" in reasons


async def test_a_slow_llm_gives_the_library_plan_within_the_budget(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    library: dict[str, Workflow],
    llm_state: AppState,
    db_session: AsyncSession,
) -> None:
    assert llm_state.llm is not None
    # Two seconds: on a loaded machine the first chunks of a 1 s budget's stream came after
    # it (no tokens to count: CI failed once so); the whole stream takes about 60 s.
    llm_state.llm.budgets["planning"] = 2.0  # type: ignore[attr-defined]
    chat.script(Reply("token " * 3000, chunk_chars=6, chunk_delay=0.02))
    started = time.monotonic()
    r = await llm_client.post(PLAN, json=ONBOARD)
    # The whole stream takes about 60 s; the rest of the request (library plan, memory)
    # varies with the machine's load, so the budget is checked on the LLM call itself.
    assert time.monotonic() - started < 12.0
    assert r.status_code == 201, r.text
    assert "too slow" in r.json()["llm"]["detail"]
    (call,) = await calls(db_session)
    assert call.outcome == "timeout" and call.tokens_estimated and call.tokens_out > 0
    assert call.latency_ms < 3500, call.latency_ms  # cut at its 2 s budget


async def test_a_slow_llm_with_no_library_match_is_a_504_saying_nothing_matched(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, llm_state: AppState
) -> None:
    assert llm_state.llm is not None
    llm_state.llm.budgets["planning"] = 0.6  # type: ignore[attr-defined]
    chat.script(Reply("token " * 3000, chunk_chars=6, chunk_delay=0.02))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 504
    detail = r.json()["detail"]
    assert "too slow" in detail and "no workflow in the library matches" in detail


async def test_a_server_traceback_never_reaches_the_response_or_the_notes(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, library: dict[str, Workflow]
) -> None:
    chat.script(*[Reply.fail(500, 'Traceback: File "/srv/app.py", line 3') for _ in range(6)])
    r = await llm_client.post(PLAN, json=ONBOARD)
    assert r.status_code == 201
    assert "Traceback" not in r.text and "/srv/app.py" not in r.text
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 503
    assert "Traceback" not in r.text and "no workflow in the library matches" in r.text


async def test_the_cap_counts_only_calls_that_reached_the_model_and_never_blocks_the_library(
    llm_client: httpx.AsyncClient,
    chat: FakeChatServer,
    library: dict[str, Workflow],
    llm_state: AppState,
) -> None:
    llm_state.settings.llm.daily_planning_cap = 1
    # A down server (503 every time) spends nothing: it does not count.
    chat.script(*[Reply.fail(503) for _ in range(3)])
    assert (await llm_client.post(PLAN, json=ONBOARD)).status_code == 201
    chat.script(Reply.json(shed_plan()))
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 201 and r.json()["source"] == "llm"
    # Now the cap is reached: a library match is still planned, library-only, and says so.
    sent = len(chat.chat_requests)
    r = await llm_client.post(PLAN, json=ONBOARD)
    assert r.status_code == 201, r.text
    assert "library-only" in r.json()["llm"]["detail"]
    wid = library["newsletter"].id
    r = await llm_client.post(PLAN, json={"intent": "whatever", "workflow_id": wid})
    assert r.status_code == 201 and "daily cap" in r.json()["notes"][0]
    assert len(chat.chat_requests) == sent  # neither reached the model
    # Only a plan that needs the LLM is refused.
    r = await llm_client.post(PLAN, json=SHED)
    assert r.status_code == 429
