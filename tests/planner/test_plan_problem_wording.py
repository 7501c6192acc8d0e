"""A new plan that cannot be stored says which task is wrong by its title and id, as an
edit's problems do, not by the body's path (`steps[0].tasks[0].deadline`); the path stays
in `errors[].field` for programs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.doubles.openai_chat import FakeChatServer, Reply

PLAN = "/api/v1/planner/plan"


def _task(id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, "title": title, "estimate_hours": 2, "depends_on": [], **extra}


async def test_a_task_deadline_after_the_plans_names_the_task(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    late = (now + timedelta(days=400)).isoformat()
    steps = [
        {
            "id": "s1",
            "title": "Proposal",
            "tasks": [
                _task("t0", "Draft proposal", deadline=late),
                _task("t1", "Send proposal", depends_on=["t0"]),
            ],
        }
    ]
    r = await client.post("/api/v1/planner/workflows", json={"name": "Proposal", "steps": steps})
    assert r.status_code == 201, r.text
    body = {
        "intent": "write and send a proposal",
        "workflow_id": r.json()["id"],
        "deadline": (now + timedelta(days=60)).isoformat(),
    }
    r = await client.post(PLAN, json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["detail"] == (
        'the plan cannot be stored: task "Draft proposal" (t0): '
        "deadline is after the plan's deadline"
    )
    assert problem["errors"] == [
        {"field": "steps[0].tasks[0].deadline", "message": "is after the plan's deadline"}
    ]


async def test_a_task_id_used_twice_names_both_tasks(
    llm_client: httpx.AsyncClient, chat: FakeChatServer
) -> None:
    twice = {
        "title": "Repaint the shed",
        "summary": "Two coats",
        "steps": [
            {
                "id": "paint",
                "title": "Paint",
                "tasks": [_task("coat", "Sand the walls"), _task("coat", "Paint two coats")],
            }
        ],
    }
    chat.script(Reply.json(twice), Reply.json(twice))  # the repair repeats it
    r = await llm_client.post(PLAN, json={"intent": "repaint the garden shed in dark green"})
    assert r.status_code == 502, r.text
    problem = r.json()
    assert (
        "the LLM's plan is still inconsistent after one repair: "
        """task "Paint two coats" (coat): task id 'coat' is used twice """
        """(also at task "Sand the walls" (coat))"""
    ) in problem["detail"]
    assert "steps[0].tasks[1].id" in [e["field"] for e in problem["errors"]]
    assert "steps[" not in problem["detail"]
