"""A plan holds at most MAX_PLAN_TASKS tasks in all: 50 steps of 100 tasks (5,000) were
accepted. A workflow's steps and a process template's checklist are held the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from almanac.models import Workflow
from almanac.ontology.sop import MAX_PLAN_TASKS, SOP, stored_sop
from tests.planner.test_plans import new_plan

API = "/api/v1/planner"


def step_list(total: int, per_step: int = 100) -> list[dict[str, Any]]:
    """`total` tasks of 0.1 h in steps of at most `per_step`."""
    out = []
    for s in range(0, total, per_step):
        tasks = [
            {"id": f"t{i}", "title": f"Task {i}", "estimate_hours": 0.1}
            for i in range(s, min(total, s + per_step))
        ]
        out.append({"id": f"s{s}", "title": f"Step {s}", "tasks": tasks})
    return out


def test_the_bound_is_the_total_not_a_step() -> None:
    assert len(list(SOP(title="t", steps=step_list(MAX_PLAN_TASKS)).tasks())) == MAX_PLAN_TASKS
    with pytest.raises(ValidationError, match=f"at most {MAX_PLAN_TASKS} tasks in all"):
        SOP(title="t", steps=step_list(MAX_PLAN_TASKS + 1))
    # One stored before the bound still reads (GET /plans must not fail on it).
    old = stored_sop({"title": "old", "steps": step_list(MAX_PLAN_TASKS + 100)})
    assert len(list(old.tasks())) == MAX_PLAN_TASKS + 100


def test_the_benchmarks_largest_instance_fits_in_one_plan() -> None:
    """bench/scheduler_bench.py's six-week instance (300 tasks), all in a single plan."""
    from bench.sched_instances import make, specs

    largest = max((make(s) for s in specs(quick=True)), key=lambda p: len(p.tasks))
    assert len(largest.tasks) >= 300
    sop = SOP(title="all of it", steps=step_list(len(largest.tasks)))
    assert len(list(sop.tasks())) == len(largest.tasks)


async def test_a_plan_of_5000_tasks_is_a_422_naming_the_field(
    client: httpx.AsyncClient, library: dict[str, Workflow]
) -> None:
    plan = await new_plan(client)
    url = f"{API}/plans/{plan['id']}"
    at_bound = {**plan["sop"], "steps": step_list(MAX_PLAN_TASKS)}
    r = await client.put(url, json={"sop": at_bound})
    assert r.status_code == 200, r.text
    assert len([t for s in r.json()["sop"]["steps"] for t in s["tasks"]]) == MAX_PLAN_TASKS
    r = await client.put(url, json={"sop": {**plan["sop"], "steps": step_list(5000)}})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert [e["field"] for e in problem["errors"]] == ["sop.steps"]
    assert f"at most {MAX_PLAN_TASKS} tasks" in problem["errors"][0]["message"]
    assert "5000 given" in problem["errors"][0]["message"]


async def test_a_workflow_or_checklist_past_the_bound_is_a_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{API}/workflows", json={"name": "Huge", "steps": step_list(MAX_PLAN_TASKS + 1)}
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["steps"]
    items = [
        {**t, "step": "s", "step_title": "S"}
        for t in step_list(MAX_PLAN_TASKS + 1, MAX_PLAN_TASKS + 1)[0]["tasks"]
    ]
    r = await client.post(f"{API}/process-templates", json={"name": "Huge", "checklist": items})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["checklist"]
    assert f"at most {MAX_PLAN_TASKS} tasks in all" in r.json()["detail"]
