"""Previewing a prompt version: the rendered messages, and the LLM's answer when asked."""

from __future__ import annotations

import json

import httpx

from tests.doubles.openai_chat import FakeChatServer
from tests.planner.test_plan_llm import GOOD

PROMPTS = "/api/v1/planner/prompts"


async def test_preview_renders_a_version_without_calling_anything(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        f"{PROMPTS}/sop_generator/versions", json={"content": "You plan work. Version two here."}
    )
    assert r.status_code == 201
    version = r.json()["version"]
    r = await client.post(
        f"{PROMPTS}/sop_generator/versions/{version}/preview", json={"sample": "Plan a launch"}
    )
    assert r.status_code == 200
    out = r.json()
    assert [m["role"] for m in out["messages"]] == ["system", "user"]
    assert out["messages"][0]["content"] == "You plan work. Version two here."
    assert out["messages"][1]["content"].startswith("Intent: Plan a launch")
    assert out["answer"] is None and out["llm"]["used"] is False
    # The preview changes nothing: the new version is still not active.
    active = (await client.get(f"{PROMPTS}/sop_generator")).json()
    assert active["version"] != version


async def test_asking_without_an_llm_says_so(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{PROMPTS}/daily_reflection/versions/v1/preview", json={"sample": "x", "call_llm": True}
    )
    assert r.status_code == 200
    assert r.json()["llm"]["detail"].startswith("no LLM configured")
    assert r.json()["messages"][1] == {"role": "user", "content": "x"}


async def test_preview_bad_input(client: httpx.AsyncClient) -> None:
    url = f"{PROMPTS}/sop_generator/versions"
    assert (await client.post(f"{url}/v999/preview", json={"sample": "x"})).status_code == 404
    r = await client.post(f"{url}/v1/preview", json={"sample": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sample"
    r = await client.post(f"{url}/v1/preview", json={"sample": "x" * 4001})
    assert r.status_code == 422
    r = await client.post(f"{url}/v1/preview", json={"sample": "x", "extra": 1})
    assert r.status_code == 422


async def test_preview_asks_the_llm_for_sop_generator(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    chat.script(json.dumps(GOOD))
    r = await llm_client.post(
        f"{PROMPTS}/sop_generator/versions/v1/preview",
        json={"sample": "repaint the shed", "call_llm": True},
    )
    assert r.status_code == 200
    out = r.json()
    assert out["llm"]["used"] is True
    assert [t["id"] for t in out["answer"]["steps"][0]["tasks"]] == ["sand", "prime", "coat"]
    sent = chat.chat_requests[-1].messages
    assert sent[0]["content"] == out["messages"][0]["content"]
    assert "Intent: repaint the shed" in sent[1]["content"]
