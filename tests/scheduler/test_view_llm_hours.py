"""The calendar view marks a block outside working hours by the hours the solve placed it
in: when the LLM read the preferences, the rules' reading is not those hours."""

from __future__ import annotations

from datetime import timedelta

from almanac.app import create_app
from almanac.deps import get_state
from almanac.state import AppState
from tests.conftest import http_client
from tests.doubles.openai_chat import FakeChatServer, Reply

from .conftest import next_monday, parse
from .test_llm_outside_transaction import committed_plan, llm_state, remember

__all__ = ["llm_state"]

EARLY = {"workday_start": "06:00:00", "workday_end": "09:00:00"}


async def test_blocks_placed_in_hours_the_llm_read_are_not_marked_outside_them(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    # The rules do not read "I'm an early bird"; the LLM reads 06:00-09:00 and the solve
    # places every block there. The view checked them by the rules' reading (the settings'
    # 09:00-17:00) and marked each one "outside working hours".
    await remember(llm_state, "preference", "I'm an early bird, done by breakfast")
    plan_id = await committed_plan(llm_state)
    chat.script(Reply.json(EARLY))
    app = create_app(state=llm_state)
    app.dependency_overrides[get_state] = lambda: llm_state
    monday = next_monday()
    body = {"plan_id": plan_id, "start_date": monday.isoformat(), "horizon_days": 5}
    async with http_client(app) as client:
        r = await client.post("/api/v1/scheduler/schedule", json={**body, "dry_run": False})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["preferences"]["source"] == "llm"
        assert out["blocks"] and all(parse(b["start"]).hour < 9 for b in out["blocks"])
        r = await client.get(
            "/api/v1/scheduler/calendar",
            params={"start_date": str(monday), "end_date": str(monday + timedelta(days=4))},
        )
    assert r.status_code == 200, r.text
    marks = {e["id"]: e["conflicts"] for e in r.json()["events"] if e["almanac"]}
    assert marks and all(m == [] for m in marks.values()), marks


async def test_a_hand_move_within_the_hours_the_llm_read_is_not_refused_for_the_rules_hours(
    llm_state: AppState, chat: FakeChatServer
) -> None:
    # A move was checked by the rules' reading (the settings' 09:00-17:00, the rules do not
    # read "early bird") while the view marks such a client's blocks by deadlines only: a
    # move to 07:00, inside the 06:00-09:00 the LLM read and the solve used, was a 409.
    await remember(llm_state, "preference", "I'm an early bird, done by breakfast")
    plan_id = await committed_plan(llm_state)
    chat.script(Reply.json(EARLY))
    app = create_app(state=llm_state)
    app.dependency_overrides[get_state] = lambda: llm_state
    monday = next_monday()
    body = {"plan_id": plan_id, "start_date": monday.isoformat(), "horizon_days": 5}
    async with http_client(app) as client:
        r = await client.post("/api/v1/scheduler/schedule", json={**body, "dry_run": False})
        assert r.status_code == 200, r.text
        blocks = [(b["almanac_id"], parse(b["start"]), parse(b["end"])) for b in r.json()["blocks"]]
        assert len(blocks) >= 2 and all(s.hour < 9 for _, s, _ in blocks)
        aid, start, end = blocks[0]
        others = blocks[1:]
        asked = len(chat.chat_requests)
        free = next(
            (s, s + (end - start))
            for day in range(5)
            for hour in (6, 7)
            if (s := start.replace(hour=hour, minute=0) + timedelta(days=day)) != start
            and s + (end - start) <= s.replace(hour=9)
            and not any(s < e1 and s0 < s + (end - start) for _, s0, e1 in others)
        )
        move = {"start": free[0].isoformat(), "end": free[1].isoformat()}
        r = await client.put(f"/api/v1/scheduler/calendar/{aid}", json=move)
        assert r.status_code == 200, r.text
        assert r.json()["warnings"] == []
        # Overlaps are still checked: onto another block is a 409 naming it.
        other, s0, e0 = others[0]
        onto = {"start": s0.isoformat(), "end": (s0 + (end - start)).isoformat()}
        r = await client.put(f"/api/v1/scheduler/calendar/{aid}", json=onto)
        assert r.status_code == 409, r.text
        messages = [e["message"] for e in r.json()["errors"]]
        assert any("overlaps another Almanac block" in m for m in messages), messages
        assert not any("working" in m for m in messages), messages
    assert len(chat.chat_requests) == asked  # a move does not ask the LLM
