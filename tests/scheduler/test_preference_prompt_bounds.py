"""Preference memories go into the LLM's prompt bounded: one cut to its first characters,
and more than the prompt is given are read by the rules, saying that no LLM was used.

Real commits and the real `openai` SDK against the chat double, which records the prompt."""

from __future__ import annotations

from almanac.scheduler.preference_llm import PREFERENCE_CHARS, PREFERENCES_CHARS
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.scheduler import test_llm_outside_transaction as outside

llm_state = outside.llm_state  # the app with the LLM on the chat double, over real commits


async def test_a_long_preference_is_cut_in_the_prompt(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    text = "I'm sharpest after lunch. " + "Some context about my days. " * 700  # ~19,600
    await outside.remember(llm_state, "preference", text)
    plan_id = await outside.committed_plan(llm_state)
    chat.script(Reply.json(outside.LATE))

    async def nothing() -> None:
        return None

    r = await outside.schedule_while(llm_state, chat, plan_id, nothing)
    assert r.status_code == 200, r.text
    assert r.json()["preferences"]["source"] == "llm"
    (request,) = chat.chat_requests
    user = request.messages[-1]["content"]
    assert "I'm sharpest after lunch." in user
    assert PREFERENCE_CHARS < len(user) < PREFERENCE_CHARS + 200


async def test_more_preferences_than_the_prompt_takes_are_read_by_the_rules(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    filler = " (as said before in many words)" * 40  # ~1,300 characters each
    count = PREFERENCES_CHARS // PREFERENCE_CHARS + 2
    for n in range(count):
        await outside.remember(
            llm_state, "preference", f"note {n}: nothing before 1{n % 3}:00{filler}"
        )
    await outside.remember(llm_state, "constraint", "nothing before 13:00")
    plan_id = await outside.committed_plan(llm_state)

    async def nothing() -> None:
        return None

    r = await outside.schedule_while(llm_state, chat, plan_id, nothing)
    assert r.status_code == 200, r.text
    out = r.json()
    assert chat.chat_requests == []
    assert out["preferences"]["source"] == "rules"
    assert out["preferences"]["llm_used"] is False
    assert any("no LLM was used" in w for w in out["warnings"]), out["warnings"]
