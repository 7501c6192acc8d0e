"""Wording: a plan without a deadline does not claim it was adapted to one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.errors import Conflict
from almanac.models import Workflow
from almanac.planner.status import require_transition
from tests.conftest import ok
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.planner.test_plan_library import _history

PLAN = "/api/v1/planner/plan"


async def test_no_deadline_no_deadline_claim(client: httpx.AsyncClient):
    r = await client.post("/api/v1/planner/workflows/import")
    assert r.status_code == 200, r.text
    plain = await client.post("/api/v1/planner/plan", json={"intent": "Run a discovery call"})
    assert plain.status_code == 201, plain.text
    assert not any("deadline" in n for n in plain.json()["notes"])
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    dated = await client.post(
        "/api/v1/planner/plan", json={"intent": "Run a discovery call", "deadline": deadline}
    )
    assert dated.status_code == 201, dated.text
    assert any("adapted to the deadline" in n for n in dated.json()["notes"])


def test_status_messages_read_well():
    with pytest.raises(Conflict) as same:
        require_transition("approved", "approved")
    assert same.value.message.startswith("the plan is already approved")
    with pytest.raises(Conflict) as other:
        require_transition("approved", "completed")
    assert "a approved" not in other.value.message
    assert other.value.message.startswith("the plan is approved and cannot become completed")
    # A scheduled plan "can become: active, cancelled, scheduled" read as if approving it
    # were wrong only by name; a draft one said only that it cannot become scheduled.
    with pytest.raises(Conflict) as scheduled:
        require_transition("scheduled", "approved")
    assert scheduled.value.message == (
        "the plan is scheduled and cannot become approved; from scheduled it can become: "
        "active, cancelled (or be scheduled again)"
    )
    with pytest.raises(Conflict) as draft:
        require_transition("draft", "scheduled", field="plan_id", plan_id=42)
    # It named `{id}` and `ID` where the plan's own id is a command to copy.
    assert draft.value.message == (
        "the plan is draft and cannot become scheduled; from draft it can become: approved, "
        "cancelled (approve it first: POST /api/v1/planner/plans/42/approve, or almanac "
        "approve 42)"
    )


async def _plan(client: httpx.AsyncClient, intent: str, **extra: object) -> httpx.Response:
    return await client.post("/api/v1/planner/plan", json={"intent": intent, **extra})


async def test_a_match_reports_confidence_and_runners_up(client: httpx.AsyncClient):
    assert (await client.post("/api/v1/planner/workflows/import")).status_code == 200
    r = await _plan(client, "Prepare the monthly report for Acme")
    assert r.status_code == 201, r.text
    match = r.json()["match"]
    assert match["chosen"]["name"] == "Monthly client reporting"
    assert match["confidence"] >= match["threshold"] == 0.65
    assert len(match["alternatives"]) == 3
    assert all(a["score"] <= match["confidence"] for a in match["alternatives"])


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("Kick off a retainer client", "Client onboarding"),
        ("Monatsbericht für Acme vorbereiten", "Monthly client reporting"),
        ("Préparer le rapport mensuel pour Acme", "Monthly client reporting"),
        ("Lanzar una newsletter", "Newsletter launch"),
    ],
)
async def test_named_intents_match_the_right_workflow(
    client: httpx.AsyncClient, intent: str, expected: str
):
    assert (await client.post("/api/v1/planner/workflows/import")).status_code == 200
    r = await _plan(client, intent)
    assert r.status_code == 201, r.text
    assert r.json()["match"]["chosen"]["name"] == expected


@pytest.mark.parametrize(
    "intent",
    ["Keynote talk at a marketing conference", "Quarterly board report for investors"],
)
async def test_near_misses_are_a_422_listing_the_closest(client: httpx.AsyncClient, intent: str):
    assert (await client.post("/api/v1/planner/workflows/import")).status_code == 200
    r = await _plan(client, intent)
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == "intent" and error["threshold"] == 0.65
    assert len(error["closest"]) == 3
    assert all(c["score"] < 0.65 for c in error["closest"])


def _library_note(plan: dict[str, Any]) -> str:
    (note,) = [n for n in plan["notes"] if "this plan is the library workflow" in n]
    return note


async def test_the_library_note_says_calibrated_only_when_history_was_used(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    fresh = await ok(await _plan(client, "onboard a new client"), 201)
    assert all(e["basis"] == "library" for e in fresh["estimates"])
    note = _library_note(fresh)
    assert note.startswith("No LLM was used: this plan is the library workflow")
    assert "calibrated from history" not in note
    assert "no past runs to calibrate them from yet" in note
    await _history(db_session, library["onboarding"], "audit", 4.0, [6.0, 6.5, 5.5, 6.0])
    calibrated = await ok(await _plan(client, "onboard a new client"), 201)
    assert "calibrated from history" in _library_note(calibrated)
    # History exists, but the caller asked for the library's figures: none was used.
    asked = await ok(await _plan(client, "onboard a new client", estimates="library"), 201)
    assert "calibrated from history" not in _library_note(asked)
    assert "with the library's estimates." in _library_note(asked)
    assert "Library estimates were requested: no history was used." in asked["notes"]


async def test_a_plan_the_llm_was_asked_for_never_says_no_llm_was_used(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, library: dict[str, Workflow]
) -> None:
    chat.script(Reply.fail(500), Reply.fail(500), Reply.fail(500))
    plan = await ok(await llm_client.post(PLAN, json={"intent": "onboard a new client"}), 201)
    assert plan["source"] == "library" and plan["degraded"] == ["llm"]
    assert len(chat.chat_requests) >= 1  # the LLM was asked
    assert not any("No LLM was used" in n for n in plan["notes"])
    assert _library_note(plan).startswith("The LLM's plan was not used: this plan is")
