"""The LLM narrative on top of the numbers, through the scripted chat double."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.schemas import RememberIn
from almanac.models import Event
from almanac.observer.deps import observer_service
from almanac.observer.narrative import (
    SLIPPED_IN_PROMPT,
    SUMMARY_CHARS,
    narrative_messages,
    reflection_summary,
)
from almanac.observer.service import ObserverService
from almanac.state import AppState
from tests.doubles.openai_chat import FakeChatServer, Reply
from tests.observer.conftest import MONDAY, SUNDAY_EVENING, fixture_week
from tests.planner.conftest import SessionRecorder


def observer(db_session: AsyncSession, state: AppState) -> ObserverService:
    return observer_service(UnitOfWork(db_session), state, clock=lambda: SUNDAY_EVENING)


async def test_the_narrative_comes_on_top_of_the_numbers(
    db_session: AsyncSession,
    state: AppState,
    llm_state: AppState,
    chat: FakeChatServer,
    recorder: SessionRecorder,
) -> None:
    await fixture_week(db_session)
    plain = await observer(db_session, state).reflect("weekly", MONDAY)
    chat.script(Reply.json({"narrative": "Design slipped.", "adjustments": ["Split deep work"]}))
    out = await observer(db_session, llm_state).reflect("weekly", MONDAY)
    assert out.id == plain.id
    assert out.narrative == "Design slipped.\n- Split deep work"
    assert out.llm == {
        "used": True,
        "model": "fake-chat",
        "prompt_template": "weekly_review",
        "prompt_version": "v1",
        "detail": "narrative by fake-chat",
    }
    # The numbers do not depend on the LLM.
    for key in ("numbers", "drift", "slipped", "overbooked_days", "billable", "recommendations"):
        assert out.report[key] == plain.report[key]
    (request,) = chat.chat_requests
    system, user = request.messages
    assert "weekly review" in system["content"]  # the seeded template
    numbers = json.loads(user["content"].split("\n", 1)[1].rsplit("\n\n", 1)[0])
    assert numbers["numbers"]["tasks_planned"] == 5
    assert [(r.operation, r.prompt_template) for r in recorder.records] == [
        ("reflection", "weekly_review")
    ]
    event = await db_session.get(Event, out.event_id)
    assert event is not None and "Design slipped." in event.content


@pytest.mark.parametrize(
    "replies",
    [
        [Reply.fail(500), Reply.fail(500), Reply.fail(500)],
        [Reply(content="not json"), Reply(content="still not json")],
        [Reply.json({"story": "wrong shape"}), Reply.json({"story": "wrong again"})],
    ],
    ids=["unavailable", "not-json", "wrong-schema"],
)
async def test_an_llm_failure_leaves_the_numbers_and_says_why(
    db_session: AsyncSession,
    state: AppState,
    llm_state: AppState,
    chat: FakeChatServer,
    replies: list[Reply],
) -> None:
    await fixture_week(db_session)
    plain = await observer(db_session, state).reflect("daily", MONDAY)
    chat.script(*replies)
    out = await observer(db_session, llm_state).reflect("daily", MONDAY)
    assert out.narrative is None
    assert out.report["numbers"] == plain.report["numbers"]
    assert out.llm["used"] is False
    assert out.llm["prompt_template"] == "daily_reflection"
    assert out.llm["detail"].startswith("the LLM")
    assert out.llm["detail"].endswith("no narrative, the numbers stand")
    assert out.report["llm"] == out.llm
    assert len(chat.chat_requests) >= 2


async def test_a_narrative_quoting_the_reports_numbers_is_accepted(
    db_session: AsyncSession, state: AppState, llm_state: AppState, chat: FakeChatServer
) -> None:
    await fixture_week(db_session)
    plain = await observer(db_session, state).reflect("weekly", MONDAY)
    n = plain.report["numbers"]
    text = (
        f"You planned {n['tasks_planned']} tasks and finished {n['tasks_done']}. "
        f"Estimates said {n['hours_estimated']:g} h; the week took {n['hours_actual']:g} h."
    )
    chat.script(Reply.json({"narrative": text, "adjustments": []}))
    out = await observer(db_session, llm_state).reflect("weekly", MONDAY)
    assert out.llm["used"] is True and out.narrative == text


@pytest.mark.parametrize(
    ("narrative", "why"),
    [
        # What SmolLM2-135M wrote: one sentence over and over, and a figure from nowhere.
        ("The week went well. " * 4, "repeats itself"),
        ("Work took 172.1222.1222 hours this week.", "figures not in the report"),
        ("You spent 93.5 hours on design.", "figures not in the report"),
    ],
    ids=["repeated-sentences", "malformed-figure", "invented-number"],
)
async def test_nonsense_narratives_are_rejected_recorded_and_never_remembered(
    db_session: AsyncSession,
    state: AppState,
    llm_state: AppState,
    chat: FakeChatServer,
    recorder: SessionRecorder,
    narrative: str,
    why: str,
) -> None:
    await fixture_week(db_session)
    chat.script(Reply.json({"narrative": narrative, "adjustments": []}))
    out = await observer(db_session, llm_state).reflect("daily", MONDAY)
    assert out.narrative is None and out.llm["used"] is False
    assert "rejected" in out.llm["detail"] and why in out.llm["detail"]
    (rec,) = recorder.records
    assert rec.outcome == "rejected" and rec.rejection and why in rec.rejection[0]
    event = await db_session.get(Event, out.event_id)
    assert event is not None and narrative.strip()[:20] not in event.content


@pytest.mark.parametrize(
    "answer",
    [
        {"narrative": "A steady week.", "adjustments": ["Split " + "deep work " * 20_000]},
        {"narrative": "A steady\x00 week.", "adjustments": []},
        {"narrative": "A steady week.", "adjustments": ["Keep\x00 going"]},
        {"narrative": "   ", "adjustments": []},
    ],
    ids=["huge-adjustment", "nul-narrative", "nul-adjustment", "blank-narrative"],
)
async def test_an_unstorable_narrative_is_dropped_and_the_reflection_kept(
    db_session: AsyncSession,
    llm_state: AppState,
    chat: FakeChatServer,
    answer: dict[str, object],
) -> None:
    # These made POST /reflect a 422 naming `content` (a field the caller never sent) and
    # lost the reflection, or stored an empty narrative "by" the model.
    await fixture_week(db_session)
    chat.script(Reply.json(answer), Reply.json(answer))
    out = await observer(db_session, llm_state).reflect("weekly", MONDAY)
    assert out.narrative is None
    assert out.llm["used"] is False
    assert out.llm["detail"].endswith("no narrative, the numbers stand")
    assert out.report["numbers"]["tasks_planned"] == 5
    event = await db_session.get(Event, out.event_id)
    assert event is not None and "5 tasks planned" in event.content


def test_the_remembered_summary_fits_a_memory_whatever_the_report_holds() -> None:
    report = {
        "mode": "weekly",
        "period": {"start": "2026-11-09", "end": "2026-11-15"},
        "numbers": {"tasks_planned": 5, "tasks_done": 2, "hours_estimated": 15, "hours_actual": 4},
        "recommendations": [f"Workflow {i} over-runs its estimate by 40%" * 3 for i in range(200)],
    }
    text = reflection_summary(report, "Narrative. " * 700 + "\n- adjust" * 10)
    assert len(text) == SUMMARY_CHARS
    assert text.startswith("Weekly reflection for 2026-11-09 to 2026-11-15: 5 tasks planned")
    assert text.endswith("…")
    RememberIn(content=text)  # what _remember stores: within the bound
    short = reflection_summary({**report, "recommendations": ["Keep going"]}, "Fine.")
    assert short.endswith("- Keep going\n\nFine.")


async def test_a_clients_titles_and_memories_stay_out_of_the_prompt_and_the_memory(
    db_session: AsyncSession, llm_state: AppState, chat: FakeChatServer
) -> None:
    # The reflection is remembered as the user's own event, which a plan for any client
    # recalls: client 101's slipped task and memory reached a recall for client 202.
    marker = "Zebrafinch"
    week = await fixture_week(db_session)
    design = week["tasks"]["design"]  # slips past its deadline on Wednesday
    design.client_id, design.title = 101, f"Audit {marker} books"
    db_session.add_all(
        [
            Event(
                event_type="memory",
                event_source="user",
                content=f"{marker} wants the audit early",
                client_id=101,
                salience_score=0.9,
                occurred_at=SUNDAY_EVENING - timedelta(days=3),
            ),
            Event(
                event_type="memory",
                event_source="user",
                content=f"Call {marker} back",
                salience_score=0.9,
                metadata_={"subject_type": "client", "subject_id": "101"},
                occurred_at=SUNDAY_EVENING - timedelta(days=3),
            ),
            Event(
                event_type="memory",
                event_source="user",
                content="Reading week planned",
                salience_score=0.8,
                occurred_at=SUNDAY_EVENING - timedelta(days=2),
            ),
        ]
    )
    await db_session.flush()
    chat.script(Reply.json({"narrative": "One task slipped.", "adjustments": []}))
    out = await observer(db_session, llm_state).reflect("weekly", MONDAY)
    assert out.narrative == "One task slipped."
    # The user's own report still names the task.
    assert [s["title"] for s in out.report["slipped"]] == [f"Audit {marker} books"]
    assert out.report["memories"]["count"] == 3
    assert out.report["memories"]["notable"] == ["Reading week planned"]
    (request,) = chat.chat_requests
    prompt = request.messages[1]["content"]
    assert marker not in prompt and "(a client's task)" in prompt
    event = await db_session.get(Event, out.event_id)
    assert event is not None and marker not in event.content
    assert "1 task(s) slipped past their deadline (1 of clients' work)" in event.content


def test_the_prompt_lists_a_bounded_number_of_slipped_tasks_and_counts_the_rest() -> None:
    # Every task of the period past its deadline went into the prompt, titles and all.
    slipped = [
        {
            "task_id": i,
            "title": f"Task {i} " + "t" * 480,
            "deadline": "2026-11-11T17:00:00+00:00",
            "status": "todo",
            "client_id": 101 if i % 2 else None,
        }
        for i in range(300)
    ]
    report = {"mode": "weekly", "numbers": {"tasks_planned": 300}, "slipped": slipped}
    _, user = narrative_messages("system", "weekly", report)
    numbers = json.loads(user.content.split("\n", 1)[1].rsplit("\n\n", 1)[0])
    assert len(numbers["slipped"]) == SLIPPED_IN_PROMPT
    assert numbers["slipped_not_listed"] == 300 - SLIPPED_IN_PROMPT
    assert len(user.content) < SLIPPED_IN_PROMPT * 600 + 1000
    assert all(s["title"].startswith("Task ") for s in numbers["slipped"][::2])
    assert all(s["title"] == "(a client's task)" for s in numbers["slipped"][1::2])
    few = narrative_messages("system", "weekly", {**report, "slipped": slipped[:2]})[1]
    assert "slipped_not_listed" not in few.content
    assert report["slipped"] == slipped  # the report itself keeps them all
