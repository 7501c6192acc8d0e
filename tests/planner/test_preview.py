"""POST /api/v1/planner/prompts/{name}/preview: render a version, ask the LLM, judge it."""

from __future__ import annotations

import httpx

from almanac.models import Workflow
from tests.doubles.openai_chat import FakeChatServer, Reply

PREVIEW = "/api/v1/planner/prompts/{}/preview"


async def test_without_an_llm_the_version_is_rendered_with_the_matched_skeleton(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    r = await client.post(
        PREVIEW.format("sop_generator"), json={"input": {"intent": "onboard a new client"}}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["version"] == "v1" and out["operation"] == "planning"
    assert out["skeleton"] == "Client onboarding"
    system, user = out["messages"]
    assert system["role"] == "system" and "onboard a new client" in user["content"]
    assert "Kickoff call with the client" in user["content"]  # the skeleton went in
    assert out["llm"]["used"] is False and out["answer"] is None and out["accepted"] is None


async def test_a_new_version_is_previewed_with_the_llms_answer_and_verdict(
    llm_client: httpx.AsyncClient, chat: FakeChatServer, library: dict[str, Workflow]
) -> None:
    r = await llm_client.post(
        "/api/v1/planner/prompts/sop_generator/versions",
        json={"content": "You are a terse planner. Keep every library task."},
    )
    assert r.status_code == 201
    one = {"id": "t1", "title": "Onboard a new client", "estimate_hours": 4.35}
    chat.script(Reply.json({"title": "x", "steps": [{"id": "s", "title": "s", "tasks": [one]}]}))
    r = await llm_client.post(
        PREVIEW.format("sop_generator"),
        json={"version": "v2", "input": {"intent": "onboard a new client"}},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["version"] == "v2"
    assert chat.chat_requests[0].messages[0]["content"].startswith("You are a terse planner")
    assert out["llm"]["used"] is True and out["accepted"] is False
    assert out["answer"]["steps"][0]["tasks"][0]["title"] == "Onboard a new client"
    assert any("dropped most of the work" in why for why in out["rejection"])


async def test_a_reflection_prompt_is_previewed_against_a_sample_report(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    report = {"numbers": {"tasks_planned": 12, "hours_estimated": 17.5, "hours_actual": 21.0}}
    chat.script(Reply.json({"narrative": "You worked 21 h against 17.5 h estimated."}))
    r = await llm_client.post(PREVIEW.format("weekly_review"), json={"input": {"report": report}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] is True and out["llm"]["used"] is True
    assert out["answer"]["narrative"].startswith("You worked 21 h")


async def test_bad_preview_input_is_a_clear_422(client: httpx.AsyncClient) -> None:
    r = await client.post(PREVIEW.format("sop_generator"), json={"input": {"intnet": "typo"}})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(PREVIEW.format("schedule_optimizer"), json={"input": {}})
    assert r.status_code == 422 and "no preview" in r.json()["detail"]
    r = await client.post(PREVIEW.format("sop_generator"), json={"input": {}, "version": "v99"})
    assert r.status_code in (404, 422)


async def test_bad_preview_input_names_each_field_under_input(client: httpx.AsyncClient) -> None:
    """Each bad field is named (`input.intent`) with its reason, not one `input` error
    quoting pydantic's report (its input values and a pydantic.dev link)."""
    sample = {"intent": "x" * 4001, "deadline": "2026-01-01T09:00:00", "bogus": 1}
    r = await client.post(PREVIEW.format("sop_generator"), json={"input": sample})
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"input.intent", "input.deadline", "input.bogus"}, errors
    assert "at most 4000 characters" in errors["input.intent"]
    assert errors["input.deadline"].startswith("must include a UTC offset")
    assert "pydantic" not in r.text and "xxxxxxxx" not in r.text
    r = await client.post(PREVIEW.format("fact_extractor"), json={"input": {"content": 5}})
    assert [e["field"] for e in r.json()["errors"]] == ["input.content"], r.text


async def test_a_sample_input_too_deep_or_too_large_is_422(client: httpx.AsyncClient) -> None:
    deep: dict[str, object] = {"intent": "x"}
    for _ in range(12):
        deep = {"nested": deep}
    huge = {"intent": "x" * (300 * 1024)}
    for body in (deep, huge):
        r = await client.post(PREVIEW.format("sop_generator"), json={"input": body})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"].startswith("input")
