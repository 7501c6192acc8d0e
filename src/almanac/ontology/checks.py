"""SOP checks and the stored shapes of workflow steps and process-template checklists.

A workflow stores its steps (`SOPStep`s). A process template stores a flat checklist, one
item per task with the step it came from (`step`, `step_title`), the shape the planner
writes when a plan is approved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from annotated_types import MaxLen
from pydantic.fields import FieldInfo

from almanac.errors import ValidationFailed
from almanac.ontology.sop import SOP, SOPStep, SOPTask, TaskKey, Title, check_sop


class ChecklistItem(SOPTask):
    """One task of a process template's checklist, with the step it belongs to."""

    step: TaskKey
    step_title: Title


def invalid(errors: Sequence[tuple[str, str]]) -> ValidationFailed:
    """A 422 listing several (field, message) problems."""
    exc = ValidationFailed("; ".join(f"{field}: {message}" for field, message in errors))
    exc.errors = [{"field": field, "message": message} for field, message in errors]
    return exc


def sop_problems(
    name: str, steps: Sequence[SOPStep], field: str = "steps"
) -> list[tuple[str, str]]:
    """Whole-plan problems of `steps` (unique ids, known dependencies, no cycle)."""
    problems = check_sop(SOP(title=name[:500], steps=list(steps)))
    # check_sop names fields from the SOP's root ("steps[0]..."); rename to the body's field.
    return [(field + p.field.removeprefix("steps"), p.message) for p in problems]


def dump_steps(steps: Sequence[SOPStep]) -> list[dict[str, Any]]:
    """Steps as stored in jsonb (one canonical shape, so re-imports compare equal)."""
    return [s.model_dump(mode="json", exclude_none=True) for s in steps]


def flatten(steps: Sequence[SOPStep]) -> list[dict[str, Any]]:
    """A checklist from steps, as the planner stores one."""
    return [
        {**task.model_dump(mode="json"), "step": step.id, "step_title": step.title}
        for step in steps
        for task in step.tasks
    ]


def _max_length(field: FieldInfo) -> int:
    return next(m.max_length for m in field.metadata if isinstance(m, MaxLen))


# A plan's bounds, which a flat checklist's items meet only once grouped into steps.
_MAX_STEPS = _max_length(SOP.model_fields["steps"])
_MAX_STEP_TASKS = _max_length(SOPStep.model_fields["tasks"])


def _crowded(grouped: dict[str, tuple[str, list[tuple[int, SOPTask]]]]) -> str | None:
    """Why flat items cannot form a plan's steps (too many steps, or tasks in one), if so:
    said of the checklist, not of the `steps` or `tasks` the caller never sent."""
    if len(grouped) > _MAX_STEPS:
        return f"its items name {len(grouped)} steps; at most {_MAX_STEPS}"
    for sid, (_, tasks) in grouped.items():
        if len(tasks) > _MAX_STEP_TASKS:
            return f"step {sid!r} has {len(tasks)} items; a step has at most {_MAX_STEP_TASKS}"
    return None


_WHERE = re.compile(r"^steps\[(\d+)\]\.tasks\[(\d+)\](.*)$")


def checklist_steps(
    name: str, checklist: Sequence[SOPStep] | Sequence[ChecklistItem]
) -> list[dict[str, Any]]:
    """Check a checklist given as steps or as flat items; return it flat, or raise 422."""
    if not checklist or isinstance(checklist[0], SOPStep):
        steps = [s for s in checklist if isinstance(s, SOPStep)]
        if len(steps) > _MAX_STEPS:
            raise invalid([("checklist", f"at most {_MAX_STEPS} steps ({len(steps)} given)")])
        if problems := sop_problems(name, steps, "checklist"):
            raise invalid(problems)
        return flatten(steps)
    items = [i for i in checklist if isinstance(i, ChecklistItem)]
    grouped: dict[str, tuple[str, list[tuple[int, SOPTask]]]] = {}
    for n, item in enumerate(items):
        task = SOPTask.model_validate(item.model_dump(exclude={"step", "step_title"}))
        grouped.setdefault(item.step, (item.step_title, []))[1].append((n, task))
    if crowded := _crowded(grouped):
        raise invalid([("checklist", crowded)])
    steps = [
        SOPStep(id=sid, title=title, tasks=[t for _, t in tasks])
        for sid, (title, tasks) in grouped.items()
    ]
    positions = [[n for n, _ in tasks] for _, tasks in grouped.values()]
    out: list[tuple[str, str]] = []
    for field, message in sop_problems(name, steps):
        # Name the flat item, not the regrouped step: "checklist[3].depends_on".
        m = _WHERE.match(field)
        where = f"checklist[{positions[int(m[1])][int(m[2])]}]{m[3]}" if m else "checklist"
        out.append((where, message))
    if out:
        raise invalid(out)
    return [i.model_dump(mode="json") for i in items]


def steps_hours(steps: Any) -> tuple[int, float]:
    """Task count and total estimate of stored steps or a flat checklist (tolerant)."""
    count, total = 0, 0.0
    for entry in steps if isinstance(steps, list) else []:
        if not isinstance(entry, dict):
            continue
        tasks = entry.get("tasks")
        # A step holds tasks; a checklist item is itself a task.
        for task in tasks if isinstance(tasks, list) else [entry]:
            if not isinstance(task, dict):
                continue
            count += 1
            hours = task.get("estimate_hours")
            if isinstance(hours, int | float) and not isinstance(hours, bool):
                total += float(hours)
    return count, round(total, 4)
