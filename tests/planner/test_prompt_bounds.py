"""What memory holds goes into the planning prompt bounded: a memory may hold 20,000
characters, and the recalled ones together made a prompt no small model takes.

Real commits (recall reads through its own transactions) and the real `openai` SDK against
the chat double, which records the prompt it was sent."""

from __future__ import annotations

import httpx

from almanac.planner.llm_plan import RECALLED_ITEM_CHARS, RECALLED_TOTAL_CHARS, recalled_lines
from almanac.planner.schemas import RecalledItem
from tests.conftest import ok
from tests.doubles.openai_chat import FakeChatServer
from tests.planner import test_client_isolation as isolation

api = isolation.api  # the app with the LLM on the chat double, over real commits
CLIENT = 303


async def test_long_recalled_facts_are_cut_in_the_prompt_and_whole_in_the_response(
    api: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    for n in range(12):
        fact = {
            "subject_type": "client",
            "subject_id": str(CLIENT),
            "fact_type": "preference",
            "content": f"Preference {n}: " + f"word{n} " * 2500,  # ~16,000 characters
        }
        await ok(await api.post("/api/v1/memory/facts", json=fact), 201)
    chat.script(isolation.sop_reply())
    plan = await ok(
        await api.post(
            "/api/v1/planner/plan",
            json={"intent": isolation.INTENT, "client_id": CLIENT},
        ),
        201,
    )
    whole = [c for c in plan["context"] if c["content"].startswith("Preference ")]
    assert len(whole) >= 2 and all(len(c["content"]) > 14_000 for c in whole)
    (request,) = chat.chat_requests
    user = request.messages[-1]["content"]
    recalled = [line for line in user.splitlines() if line.startswith("- [fact:")]
    assert recalled, "the preferences are recalled into the prompt"
    assert all(len(line) <= RECALLED_ITEM_CHARS + 40 for line in recalled)
    assert len(user) < RECALLED_TOTAL_CHARS + len(isolation.INTENT) + 2000


def test_recalled_lines_stop_at_the_total_and_say_how_many_are_left_out() -> None:
    items = [RecalledItem(kind="event", id=n, content=f"{n} " + "x" * 5000) for n in range(30)]
    lines = recalled_lines(items)
    shown = lines[:-1]
    assert sum(len(line) for line in shown) <= RECALLED_TOTAL_CHARS
    assert all(line.endswith("…") for line in shown)
    assert lines[-1] == f"- ({len(items) - len(shown)} more not shown)"
    short = [RecalledItem(kind="event", id=1, content="Prefers mornings")]
    assert recalled_lines(short) == ["- [event] Prefers mornings"]
