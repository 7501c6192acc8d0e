"""Turn workflows from the library into a plan's skeleton SOP (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from almanac.errors import AlmanacError
from almanac.ontology.sop import SOP, SOPStep, SOPTask, stored_step


class BrokenWorkflow(AlmanacError, status_code=422, title="Workflow is not a valid SOP"):
    """A stored workflow whose steps do not have the SOP shape (edited by hand in SQL)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One workflow's share of a skeleton: its id, name, and the steps as stored."""

    workflow_id: int
    name: str
    steps: Any


def workflow_steps(part: Part) -> list[SOPStep]:
    """A workflow's stored steps, validated."""
    try:
        return [stored_step(step) for step in (part.steps or [])]
    except (ValidationError, TypeError) as exc:
        raise BrokenWorkflow(
            f"workflow {part.workflow_id} ({part.name!r}) has steps that are not a valid SOP: "
            f"{exc}; fix it with PUT /api/v1/planner/workflows/{part.workflow_id}",
        ) from exc


def build_skeleton(
    title: str, summary: str, parts: Sequence[Part]
) -> tuple[SOP, dict[str, tuple[int, str]]]:
    """One SOP from one or more workflows, and each task's origin (workflow id, task key).

    With several workflows (a service blueprint) ids are prefixed with the workflow's
    position, and a workflow's first tasks wait for the previous workflow's last ones.
    """
    steps: list[SOPStep] = []
    origin: dict[str, tuple[int, str]] = {}
    previous_ends: list[str] = []
    multi = len(parts) > 1
    for n, part in enumerate(parts, start=1):
        own = workflow_steps(part)
        prefix = f"{n}." if multi else ""
        depended = {d for s in own for t in s.tasks for d in t.depends_on}
        ends: list[str] = []
        for step in own:
            tasks: list[SOPTask] = []
            for task in step.tasks:
                new_id = prefix + task.id
                origin[new_id] = (part.workflow_id, task.id)
                deps = [prefix + d for d in task.depends_on] or list(previous_ends)
                tasks.append(task.model_copy(update={"id": new_id, "depends_on": deps}))
                if task.id not in depended:
                    ends.append(new_id)
            title_ = f"{part.name}: {step.title}" if multi else step.title
            steps.append(
                step.model_copy(
                    update={"id": prefix + step.id, "title": title_[:500], "tasks": tasks}
                )
            )
        previous_ends = ends
    return SOP(title=title[:500], summary=summary[:5000], steps=steps), origin


def with_deadline(sop: SOP, deadline: datetime | None) -> SOP:
    """Every task without a deadline gets the plan's, so the scheduler honours it; or, when
    a task depending on it is due earlier, that task's: work another task waits for is due
    by then (the plan's deadline there would read as a task due before its dependency)."""
    if deadline is None:
        return sop
    dependents: dict[str, list[str]] = {}
    for t in sop.tasks():
        for dep in t.depends_on:
            dependents.setdefault(dep, []).append(t.id)
    own = {t.id: t.deadline for t in sop.tasks()}
    due: dict[str, datetime] = {}

    def due_by(tid: str, path: frozenset[str]) -> datetime:
        if tid not in due:
            given = own.get(tid)
            if given is not None:
                due[tid] = given
            else:  # a cycle is refused later (check_sop); here it only stops the walk
                after = [due_by(d, path | {tid}) for d in dependents.get(tid, []) if d not in path]
                due[tid] = min([deadline, *after])
        return due[tid]

    steps = [
        step.model_copy(
            update={
                "tasks": [
                    t
                    if t.deadline is not None
                    else t.model_copy(update={"deadline": due_by(t.id, frozenset())})
                    for t in step.tasks
                ]
            }
        )
        for step in sop.steps
    ]
    return sop.model_copy(update={"steps": steps})


def title_for(name: str, intent: str) -> str:
    """A plan's title: the library entry's name and the intent, shortened."""
    short = " ".join(intent.split())
    if len(short) > 120:
        short = short[:117] + "..."
    return f"{name}: {short}"


def summary_of(metadata: dict[str, object] | None) -> str:
    value = (metadata or {}).get("description")
    return value if isinstance(value, str) else ""
