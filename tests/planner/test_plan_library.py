"""POST /plan without an LLM: the workflow library, calibrated from history, and said so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ExecutionRun, Plan, ProcessTemplate, Task, Workflow


async def plans_count(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(Plan)) or 0)


def task_hours(plan: dict[str, Any]) -> dict[str, float]:
    return {t["id"]: t["estimate_hours"] for s in plan["sop"]["steps"] for t in s["tasks"]}


async def test_plans_from_the_best_matching_workflow_and_says_no_llm(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    r = await client.post(
        "/api/v1/planner/plan", json={"intent": "Onboard Acme as a new client next week"}
    )
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["status"] == "draft" and plan["version"] == 1
    assert plan["workflow_id"] == library["onboarding"].id
    assert plan["source"] == "library"
    assert plan["llm"]["used"] is False
    assert any("No LLM was used" in n for n in plan["notes"])
    assert set(task_hours(plan)) == {"contract", "kickoff", "accounts", "audit"}
    assert plan["total_hours"] == 7.5
    # The stored plan reads back the same.
    again = (await client.get(f"/api/v1/planner/plans/{plan['id']}")).json()
    assert again["sop"] == plan["sop"]


async def test_another_intent_picks_the_other_workflow(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    r = await client.post(
        "/api/v1/planner/plan", json={"intent": "launch an email newsletter for my practice"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["workflow_id"] == library["newsletter"].id


async def test_no_match_and_no_llm_is_a_422_that_says_what_to_do(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    r = await client.post(
        "/api/v1/planner/plan", json={"intent": "repaint the garden shed in dark green"}
    )
    assert r.status_code == 422
    body = r.json()
    # Titled as the other 422s are (it was "Bad request").
    assert body["title"] == "Validation failed"
    assert "No workflow in the library matches" in body["detail"]
    assert "configure an LLM" in body["detail"] and "workflow_id" in body["detail"]
    assert body["errors"][0]["field"] == "intent"
    assert await plans_count(db_session) == 0


async def test_explicit_workflow_id_is_used_and_unknown_is_404(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    wid = library["newsletter"].id
    r = await client.post(
        "/api/v1/planner/plan", json={"intent": "something vague", "workflow_id": wid}
    )
    assert r.status_code == 201 and r.json()["workflow_id"] == wid
    r = await client.post(
        "/api/v1/planner/plan", json={"intent": "something vague", "workflow_id": 10**9}
    )
    assert r.status_code == 404


async def test_deadline_is_given_to_every_task_and_checked(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=21)).replace(microsecond=0)
    r = await client.post(
        "/api/v1/planner/plan",
        json={"intent": "onboard a new client", "deadline": deadline.isoformat()},
    )
    assert r.status_code == 201, r.text
    tasks = [t for s in r.json()["sop"]["steps"] for t in s["tasks"]]
    assert {datetime.fromisoformat(t["deadline"]) for t in tasks} == {deadline}

    # 7.5 h of work cannot fit into the next hour: rejected, nothing stored.
    before = await plans_count(db_session)
    soon = datetime.now(UTC) + timedelta(hours=1)
    r = await client.post(
        "/api/v1/planner/plan",
        json={"intent": "onboard a new client", "deadline": soon.isoformat()},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "deadline"
    assert await plans_count(db_session) == before


async def test_bad_input_names_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        ({}, "intent"),
        ({"intent": "  "}, "intent"),
        ({"intent": " \t \n "}, "intent"),  # long enough, but blank: it named "body"
        ({"intent": "onboard", "deadline": "2030-01-01T09:00:00"}, "deadline"),
        ({"intent": "onboard", "deadline": "2001-01-01T09:00:00Z"}, "deadline"),
        ({"intent": "onboard", "client_id": 0}, "client_id"),
        ({"intent": "onboard", "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/planner/plan", json=body)
        assert r.status_code == 422, (body, r.text)
        assert any(field in (e.get("field") or "") for e in r.json()["errors"]), (body, r.json())


async def _history(
    db_session: AsyncSession, workflow: Workflow, key: str, estimated: float, actuals: list[float]
) -> None:
    """Past engagements of `workflow` in which task `key` took `actuals` hours."""
    now = datetime.now(UTC)
    for actual in actuals:
        template = ProcessTemplate(name="past", workflow_id=workflow.id, checklist=[])
        db_session.add(template)
        await db_session.flush()
        task = Task(
            process_template_id=template.id,
            plan_task_key=key,
            title=key,
            estimate_hours=estimated,
            status="done",
        )
        db_session.add(task)
        await db_session.flush()
        # Two sessions (paused and resumed) add up to the task's actual time.
        for share in (0.5, 0.5):
            db_session.add(
                ExecutionRun(
                    process_template_id=template.id,
                    task_id=task.id,
                    started_at=now - timedelta(days=3),
                    ended_at=now - timedelta(days=3, hours=-1),
                    estimated_hours=estimated,
                    actual_hours=actual * share,
                    status="completed",
                )
            )
    await db_session.flush()


async def test_estimates_are_calibrated_from_execution_runs(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    await _history(db_session, library["onboarding"], "audit", 4.0, [6.0, 6.5, 5.5, 6.0])
    r = await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"})
    assert r.status_code == 201, r.text
    plan = r.json()
    # Four runs of the audit at ~1.5x: most of it is this task's (or this workflow's) pace.
    assert 5.5 <= task_hours(plan)["audit"] <= 6.25
    estimates = {e["task_id"]: e for e in plan["estimates"]}
    audit, kickoff = estimates["audit"], estimates["kickoff"]
    assert (audit["basis"], audit["runs"], audit["task_runs"]) == ("workflow", 4, 4)
    assert audit["library_hours"] == 4.0
    assert audit["low_hours"] < audit["hours"] < audit["high_hours"]
    # A task with no runs of its own borrows the workflow's pace, less surely.
    assert kickoff["task_runs"] == 0 and 1.5 < kickoff["hours"] < 1.5 * 1.5
    assert kickoff["high_hours"] / kickoff["low_hours"] > audit["high_hours"] / audit["low_hours"]
    change = next(c for c in plan["calibration"] if c["task_id"] == "audit")
    assert change["runs"] == 4 and "4 past task runs" in change["reason"]
    assert any("adjusted from past execution runs" in n for n in plan["notes"])
    assert plan["estimates_mode"] == "calibrated"


@asynccontextmanager
async def gateway_at(state: Any, url: str) -> AsyncIterator[None]:
    """The app's memory behind a Gateway at `url` (two-process mode) for the block."""
    from almanac.config import ServerSettings

    settings = state.settings
    state.settings = settings.model_copy(update={"server": ServerSettings(memory_gateway_url=url)})
    try:
        yield
    finally:
        if state.memory is not None:
            await state.memory.close()
        state.memory = None
        state.settings = settings


async def test_memory_down_degrades_but_still_plans(
    client: httpx.AsyncClient, library: dict[str, Workflow], state: Any
) -> None:
    # A Gateway in another process that does not answer: planning goes on and says what
    # it missed (the real HTTP port, chosen by the setting).
    async with gateway_at(state, "http://127.0.0.1:9"):
        r = await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"})
    assert r.status_code == 201, r.text
    assert r.json()["degraded"] == ["memory"]


async def test_plan_notes_never_quote_the_gateways_password(
    client: httpx.AsyncClient, library: dict[str, Workflow], state: Any
) -> None:
    """A Gateway URL with credentials in it (`http://user:pass@host`) was quoted whole in
    the note saying memory was unavailable."""
    password = "s3cret-gateway-pass"
    async with gateway_at(state, f"http://planner:{password}@127.0.0.1:9"):
        r = await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"})
        again = await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"})
    assert r.status_code == 201 and again.status_code == 201, r.text
    for answer in (r, again):  # the second within the deadline: "not asked again yet"
        notes = answer.json()["notes"]
        assert any("Memory Gateway at http://planner:***@127.0.0.1:9" in n for n in notes), notes
        assert password not in answer.text
    stored = await client.get(f"/api/v1/planner/plans/{r.json()['id']}")
    assert password not in stored.text


async def test_an_estimate_set_on_the_task_is_no_longer_said_calibrated(
    client: httpx.AsyncClient, library: dict[str, Workflow], db_session: AsyncSession
) -> None:
    """PATCH /tasks/{id} with an estimate left the plan saying the figure was calibrated
    from history (its notes, its estimate entry and its calibration)."""
    await _history(db_session, library["onboarding"], "audit", 4.0, [6.0, 6.5, 5.5, 6.0])
    r = await client.post("/api/v1/planner/plan", json={"intent": "onboard a new client"})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert any(n.endswith("calibrated from history.") for n in plan["notes"]), plan["notes"]
    r = await client.post(f"/api/v1/planner/plans/{plan['id']}/approve")
    assert r.status_code == 200, r.text
    task = (
        await db_session.scalars(
            select(Task).where(Task.plan_id == plan["id"], Task.plan_task_key == "audit")
        )
    ).one()
    was = task.estimate_hours
    r = await client.patch(f"/api/v1/planner/tasks/{task.id}", json={"estimate_hours": 9})
    assert r.status_code == 200, r.text

    after = (await client.get(f"/api/v1/planner/plans/{plan['id']}")).json()
    notes = after["notes"]
    assert not any(n.endswith("calibrated from history.") for n in notes), notes
    assert any("(but not audit)" in n for n in notes), notes
    assert f"Set by hand after planning (not calibrated): audit ({was:g} h → 9 h)." in notes
    audit = next(e for e in after["estimates"] if e["task_id"] == "audit")
    assert audit["hours"] == 9 and audit["basis"] == "hand"
    assert audit["note"].startswith(f"set by hand on task {task.id}"), audit
    assert all(c["task_id"] != "audit" for c in after.get("calibration") or [])
