"""The SOP: the shape of a plan and of a workflow's steps, and the checks every plan passes.

A plan is steps, each with tasks. Task ids are unique across the whole plan and
`depends_on` names other tasks of the same plan. These models check each field; `check_sop`
checks the plan as a whole (unique ids, dependencies that exist, no cycle, a plausible
total), because an LLM can produce fields that are each valid and a plan that is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from almanac.types import DEADLINE_AHEAD, DEADLINE_WHY, NOT_BOOL, AwareDatetime, too_far

TaskKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Title = Annotated[str, Field(min_length=1, max_length=500)]
# 1 = low, 2 = normal, 3 = high, 4 = urgent; the scheduler weighs placed hours by it.
Priority = Annotated[int, Field(ge=1, le=4), NOT_BOOL]
MAX_TASK_HOURS = 200.0  # a longer task is a project: split it
# Tasks in one plan (or one workflow's steps) at most: 50 steps of 100 tasks each were
# 5,000, more than a one-person consultancy schedules in the 60-day horizon. The largest
# plan of the tests and benchmarks holds 300 (bench/sched_instances.py's six weeks).
MAX_PLAN_TASKS = 500


# Validation context for an SOP read back from the database (a plan, a workflow's steps).
_STORED = {"stored": True}


def _positive_hours(value: float, info: ValidationInfo) -> float:
    """To six decimals (3.6 ms), and not 0 then: 5e-324 h is > 0, but dividing by it made
    the observer's variances infinite (a 500 from POST /observer/reflect). One stored
    before estimates were rounded reads as the least step: refusing it made GET /plans a
    422 for every caller, naming a field none of them sent."""
    rounded = round(value, 6)
    if rounded <= 0:
        if info.context and info.context.get("stored"):
            return 0.000001
        raise ValueError("must be at least 0.000001 hours")
    return rounded


def bounded_tasks(steps: list[Any], info: ValidationInfo) -> list[Any]:
    """Steps (or a flat checklist) holding at most MAX_PLAN_TASKS tasks in all; one
    stored before the bound still reads."""
    total = sum(len(s.tasks) if isinstance(s, SOPStep) else 1 for s in steps)
    if total > MAX_PLAN_TASKS and not (info.context and info.context.get("stored")):
        raise ValueError(
            f"must hold at most {MAX_PLAN_TASKS} tasks in all ({total} given): "
            "split the work into several plans"
        )
    return steps


class SOPTask(BaseModel):
    """One executable task of a plan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: TaskKey
    title: Title
    description: Annotated[str, Field(max_length=5000)] = ""
    estimate_hours: Annotated[
        float, Field(gt=0, le=MAX_TASK_HOURS), NOT_BOOL, AfterValidator(_positive_hours)
    ]
    depends_on: Annotated[list[TaskKey], Field(max_length=50)] = Field(default_factory=list)
    billable: bool = False
    priority: Priority = 2
    earliest_start: AwareDatetime | None = None
    deadline: AwareDatetime | None = None


class SOPStep(BaseModel):
    """A phase of the plan grouping tasks (also the shape of a workflow's steps)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: TaskKey
    title: Title
    description: Annotated[str, Field(max_length=5000)] = ""
    tasks: Annotated[list[SOPTask], Field(min_length=1, max_length=100)]


class SOP(BaseModel):
    """A whole plan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: Title
    summary: Annotated[str, Field(max_length=5000)] = ""
    steps: Annotated[
        list[SOPStep], Field(min_length=1, max_length=50), AfterValidator(bounded_tasks)
    ]

    def tasks(self) -> Iterator[SOPTask]:
        """Every task, step by step."""
        for step in self.steps:
            yield from step.tasks

    def total_hours(self) -> float:
        """The sum of the task estimates."""
        return sum(t.estimate_hours for t in self.tasks())


class SOPProblem(BaseModel):
    """One thing wrong with a plan, named by where it is."""

    field: str
    message: str


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a list of ids (first == last), or None.

    Depth-first with its own stack: a chain of a thousand tasks (a workflow may hold
    5,000) would pass Python's recursion limit.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        colour[root] = grey
        path = [root]
        todo = [iter(graph.get(root, []))]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                todo.pop()
                continue
            if nxt not in colour:
                continue
            if colour[nxt] == grey:
                return [*path[path.index(nxt) :], nxt]
            if colour[nxt] == white:
                colour[nxt] = grey
                path.append(nxt)
                todo.append(iter(graph.get(nxt, [])))
    return None


def check_sop(
    sop: SOP,
    *,
    now: datetime | None = None,
    deadline: datetime | None = None,
    hours_per_day: float = 6.0,
    latest: datetime | None = None,
) -> list[SOPProblem]:
    """Whole-plan checks; an empty list means the plan can be stored.

    `hours_per_day` is the focused time one person can give a plan on a working day; with
    a deadline, the total must fit into the working days (five a week) before it. `latest`
    is the last task deadline accepted: by default `DEADLINE_AHEAD` after `now`, the bound
    an edited task's deadline has (an edit passes its own, from the time of the edit).
    """
    if latest is None and now is not None:
        latest = now + DEADLINE_AHEAD
    problems: list[SOPProblem] = []
    seen: dict[str, str] = {}
    step_ids: set[str] = set()
    problems += [SOPProblem(field=f, message=BLANK) for f in _blank_titles(sop)]
    for si, step in enumerate(sop.steps):
        if step.id in step_ids:
            problems.append(
                SOPProblem(field=f"steps[{si}].id", message=f"duplicate step id {step.id!r}")
            )
        step_ids.add(step.id)
        for ti, task in enumerate(step.tasks):
            where = f"steps[{si}].tasks[{ti}]"
            if task.id in seen:
                problems.append(
                    SOPProblem(
                        field=f"{where}.id",
                        message=f"task id {task.id!r} is used twice (also at {seen[task.id]})",
                    )
                )
            else:
                seen[task.id] = where
    for si, step in enumerate(sop.steps):
        for ti, task in enumerate(step.tasks):
            where = f"steps[{si}].tasks[{ti}]"
            for dep in task.depends_on:
                if dep not in seen:
                    problems.append(
                        SOPProblem(
                            field=f"{where}.depends_on",
                            message=f"depends on {dep!r}, which is not a task of this plan",
                        )
                    )
                elif dep == task.id:
                    problems.append(
                        SOPProblem(
                            field=f"{where}.depends_on", message="a task cannot depend on itself"
                        )
                    )
            if task.earliest_start and task.deadline and task.deadline <= task.earliest_start:
                problems.append(
                    SOPProblem(
                        field=f"{where}.deadline", message="deadline must be after earliest_start"
                    )
                )
            problems += _task_dates(task, where, now, deadline, latest)
    problems += _due_before_dependency(sop, seen, {p.field for p in problems})
    graph = {t.id: [d for d in t.depends_on if d != t.id] for t in sop.tasks()}
    cycle = find_cycle(graph)
    if cycle is not None:
        problems.append(
            SOPProblem(field="steps", message="dependency cycle: " + " -> ".join(cycle))
        )
    if deadline is not None and now is not None:
        available = working_hours_between(now, deadline, hours_per_day)
        total = sop.total_hours()
        if total > available:
            problems.append(
                SOPProblem(
                    field="deadline",
                    message=(
                        f"the plan needs {total:g} h but only about {available:g} h of working "
                        f"time ({hours_per_day:g} h a working day) remain before the deadline"
                    ),
                )
            )
    return problems


def _task_dates(
    task: SOPTask,
    where: str,
    now: datetime | None,
    deadline: datetime | None,
    latest: datetime | None,
) -> list[SOPProblem]:
    """A task's own dates against the plan's time: a deadline already past (1900, or an
    LLM's 2001) or beyond the plan's deadline made tasks the scheduler could only mark
    late by decades or never place."""
    out = []
    if now is not None and task.deadline is not None and task.deadline <= now:
        out.append(SOPProblem(field=f"{where}.deadline", message="is already past"))
    if latest is not None and task.deadline is not None and task.deadline > latest:
        # The words of the task's own `deadline` field (PATCH /tasks/{id}): one bound.
        message = too_far(DEADLINE_AHEAD, DEADLINE_WHY)
        out.append(SOPProblem(field=f"{where}.deadline", message=message))
    if deadline is not None:
        if task.deadline is not None and task.deadline > deadline:
            out.append(
                SOPProblem(field=f"{where}.deadline", message="is after the plan's deadline")
            )
        if task.earliest_start is not None and task.earliest_start >= deadline:
            out.append(
                SOPProblem(
                    field=f"{where}.earliest_start", message="is not before the plan's deadline"
                )
            )
    return out


def _due_before_dependency(sop: SOP, seen: dict[str, str], flagged: set[str]) -> list[SOPProblem]:
    """A task due before a task it depends on: it could only be late. PATCH /tasks/{id}
    refuses such a deadline (`tasks.service`); a plan is held to the same rule. A dependency
    whose own deadline is wrong (`flagged`) is that problem alone, not its dependents' too."""
    due = {t.id: t.deadline for t in sop.tasks()}
    out = []
    for si, step in enumerate(sop.steps):
        for ti, task in enumerate(step.tasks):
            if task.deadline is None:
                continue
            for dep in dict.fromkeys(task.depends_on):
                before = due.get(dep)
                if dep == task.id or before is None or task.deadline >= before:
                    continue
                if f"{seen[dep]}.deadline" in flagged:
                    continue
                message = (
                    f"is before the deadline of {seen[dep]} ({before.isoformat()}), "
                    "which it depends on"
                )
                out.append(SOPProblem(field=f"steps[{si}].tasks[{ti}].deadline", message=message))
    return out


BLANK = "must contain non-whitespace text"


def _blank_titles(sop: SOP) -> Iterator[str]:
    """Where a title is only spaces: it names nothing on a calendar or in a list. Checked
    here, not on the field, so that a plan stored with one still reads."""
    if not sop.title.strip():
        yield "title"
    for si, step in enumerate(sop.steps):
        if not step.title.strip():
            yield f"steps[{si}].title"
        for ti, task in enumerate(step.tasks):
            if not task.title.strip():
                yield f"steps[{si}].tasks[{ti}].title"


_WHERE = re.compile(r"^steps\[(\d+)\](?:\.tasks\[(\d+)\])?(?:\.(\w+))?$")
# A place a message quotes (a duplicate id's first use: "also at steps[0].tasks[1]").
_PLACE = re.compile(r"steps\[(\d+)\](?:\.tasks\[(\d+)\])?")


def _named(sop: SOP, si: int, ti: str | None) -> str | None:
    """The step (or its task, when `ti` is given) by its title and id; None if none is."""
    step = sop.steps[si] if si < len(sop.steps) else None
    item = step.tasks[int(ti)] if step and ti is not None and int(ti) < len(step.tasks) else step
    if item is None or (ti is not None and item is step):
        return None
    kind = "step" if ti is None else "task"
    title = item.title.strip()
    return f'{kind} "{title}" ({item.id})' if title else f"{kind} {item.id}"


def plain_problem(sop: SOP, problem: SOPProblem) -> str:
    """A problem worded for a person: the task or step by its title and id, the field by
    name (`task "Kickoff" (kickoff): deadline is already past`), not the body's path
    (`steps[0].tasks[0].deadline`), which `errors[].field` still gives to clients."""
    match = _WHERE.match(problem.field)
    # Places the message quotes too (the path stays in `errors[].message`).
    message = _PLACE.sub(lambda m: _named(sop, int(m[1]), m[2]) or m[0], problem.message)
    if problem.field == "steps":  # a dependency cycle names its tasks itself
        return message
    name = None if match is None else _named(sop, int(match[1]), match[2])
    if match is None or name is None:
        return f"{problem.field}: {message}"
    field = (match[3] or "").replace("_", " ")
    # "is already past" needs its field; "depends on 'x', which ..." names it already.
    predicate = message.startswith(("is ", "must "))
    return f"{name}: {field} {message}" if predicate else f"{name}: {message}"


def plain_problems(sop: SOP, problems: Sequence[SOPProblem]) -> str:
    """`problems` for a message: each by `plain_problem`, separated by semicolons."""
    return "; ".join(plain_problem(sop, p) for p in problems)


def working_hours_between(start: datetime, end: datetime, hours_per_day: float) -> float:
    """Working hours (Monday to Friday, `hours_per_day` each) in [start, end), by whole
    days, and never more than the hours that pass (a deadline 2 h away left 6 h)."""
    if end <= start:
        return 0.0
    days = 0
    day = start.date()
    while day < end.date():
        if day.weekday() < 5:
            days += 1
        day = day.fromordinal(day.toordinal() + 1)
    # The deadline's own day counts when there is time left on it.
    if end.weekday() < 5 and end.hour >= 12:
        days += 1
    # In UTC: datetimes sharing one zone subtract by wall time, an hour off across DST.
    passing = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600
    return min(days * hours_per_day, round(passing, 2))


def stored_sop(data: Any) -> SOP:
    """An SOP read back from the database (ValidationError when it is not one)."""
    return SOP.model_validate(data, context=_STORED)


def stored_step(data: Any) -> SOPStep:
    """A workflow step read back from the database (ValidationError when it is not one)."""
    return SOPStep.model_validate(data, context=_STORED)
