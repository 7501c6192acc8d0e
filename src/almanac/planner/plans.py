"""Stored plans: read, edit with a version history, approve, move along the status machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, Conflict
from almanac.models import Plan, Task
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.sop import SOP, SOPProblem, check_sop, plain_problems, stored_sop
from almanac.planner.estimates import explained_after_edit
from almanac.planner.repository import PlanRepository
from almanac.planner.schemas import (
    ApprovedOut,
    ApprovedTask,
    PlanList,
    PlanOut,
    PlanQuery,
    PlanStatusIn,
    PlanUpdate,
    PlanVersionOut,
)
from almanac.planner.status import require_transition
from almanac.types import DEADLINE_AHEAD

# What a plan's metadata carries that its API shape shows (empty values are left out).
_SHOWN_METADATA = (
    "source",
    "llm",
    "calibration",
    "estimates_mode",
    "estimates",
    "context",
    "notes",
    "degraded",
    "deadline",
    "match",
)


def plan_sop(plan: Plan) -> SOP:
    """A plan's stored SOP; Conflict (naming `sop`) when the row no longer reads as one."""
    try:
        return stored_sop(plan.sop)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'sop'}: {err['msg']}"
            for err in e.errors()[:5]
        )
        raise Conflict(
            f"plan {plan.id}'s stored SOP is not a valid plan ({problems}): "
            "PUT a new sop to repair it",
            errors=[{"field": "sop", "message": problems}],
        ) from e


def plan_out(plan: Plan) -> PlanOut:
    """The API shape of a plan row (`sop` None and `sop_error` set if it is unreadable)."""
    meta: dict[str, Any] = plan.metadata_ if isinstance(plan.metadata_, dict) else {}
    shown = {k: meta[k] for k in _SHOWN_METADATA if meta.get(k)}
    try:
        sop = plan_sop(plan)
    except Conflict as e:
        return _shown(plan, shown, sop=None, sop_error=e.message, total_hours=0.0)
    return _shown(plan, shown, sop=sop, total_hours=round(sop.total_hours(), 2))


def _shown(plan: Plan, shown: dict[str, Any], **values: Any) -> PlanOut:
    """The plan with its metadata, leaving out stored metadata that no longer fits."""
    try:
        return row_out(PlanOut, plan, **values, **shown)
    except ValidationError as e:
        bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
        if not bad & set(shown):
            raise
        kept = {k: v for k, v in shown.items() if k not in bad}
        return row_out(PlanOut, plan, **values, **kept)


def _origins(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per plan task: the workflow task it came from and the library's estimate for it.

    Kept on the task so its runs are measured against the library (not against the
    plan's calibrated figure) and counted for the right workflow, also inside blueprints.
    """
    out: dict[str, dict[str, Any]] = {}
    for e in meta.get("estimates", []):
        if isinstance(e, dict) and e.get("workflow_id") and e.get("library_hours"):
            out[str(e["task_id"])] = {
                "workflow_id": int(e["workflow_id"]),
                "workflow_task": str(e["workflow_task"]),
                "library_hours": float(e["library_hours"]),
            }
    return out


def newly_past(stored: Any, sop: SOP, now: datetime, found: list[SOPProblem]) -> list[SOPProblem]:
    """A task deadline an edit sets (new, or changed) that is already past. The plan's
    other dates are judged by when it was made (`check_sop` with its creation time), so an
    old draft still edits; a task due yesterday, set today, was stored and scheduled late."""
    try:
        before = {t.id: t.deadline for t in stored_sop(stored).tasks()}
    except ValidationError:
        before = {}
    seen = {p.field for p in found}
    out = []
    for si, step in enumerate(sop.steps):
        for ti, task in enumerate(step.tasks):
            field = f"steps[{si}].tasks[{ti}].deadline"
            due = task.deadline
            if due is None or due > now or field in seen:
                continue
            if task.id not in before or before[task.id] != due:
                out.append(SOPProblem(field=field, message="is already past"))
    return out


def _title_after(plan: Plan, body: PlanUpdate) -> str:
    return body.plan_title or (body.sop.title if body.sop else plan.plan_title)


def _unchanged(plan: Plan, body: PlanUpdate) -> bool:
    """Whether the edit gives the plan what it already has."""
    if _title_after(plan, body) != plan.plan_title:
        return False
    if body.sop is None:
        return True
    try:
        stored = stored_sop(plan.sop).model_dump(mode="json")
    except ValidationError:
        return False
    return stored == body.sop.model_dump(mode="json")


class PlanLifecycleService:
    """A stored plan's life after drafting: read, edit (versioned), approve, change status.

    Drafting a plan from an intent is `planner.service.PlannerService`. Never commits.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        hours_per_day: float = 6.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repo = PlanRepository(uow.session)
        self.ontology = OntologyRepository(uow.session)
        self.hours_per_day = hours_per_day
        self.clock = clock

    async def _get(self, plan_id: int, *, for_update: bool = False) -> Plan:
        return await self.repo.require(Plan, plan_id, "plan", lock=self.repo.lock_of(for_update))

    async def get(self, plan_id: int) -> PlanOut:
        return plan_out(await self._get(plan_id))

    async def search(self, query: PlanQuery) -> PlanList:
        """Plans, newest first."""
        rows, total = await self.repo.plans(
            **query.filters(), limit=query.limit, offset=query.offset
        )
        return PlanList(items=[plan_out(p) for p in rows], total=total)

    async def update(self, plan_id: int, body: PlanUpdate) -> PlanOut:
        """Edit a draft; the previous version is kept in the history."""
        plan = await self._get(plan_id, for_update=True)
        if plan.status != "draft":
            raise Conflict(
                f"plan {plan_id} is {plan.status}: only draft plans can be edited "
                "(its tasks already exist once approved)",
                field="plan_id",
            )
        if body.version is not None and body.version != plan.version:
            raise Conflict(
                f"plan {plan_id} is at version {plan.version}, not {body.version}: "
                "reload it and apply your edit again",
                field="version",
            )
        if _unchanged(plan, body):
            # A retried or empty edit is not a new version: the history stays the user's.
            return plan_out(plan)
        if body.sop is not None:
            problems = self._problems(plan, body.sop)
            problems += newly_past(plan.sop, body.sop, self.clock(), problems)
            if problems:
                raise AlmanacError(
                    "the edited plan is inconsistent: " + plain_problems(body.sop, problems),
                    422,
                    errors=[{"field": f"sop.{p.field}", "message": p.message} for p in problems],
                )
        await self.repo.save_version(plan, body.note)
        if body.sop is not None:
            meta = dict(plan.metadata_ or {})
            # The explanations follow the figures: an edited estimate is set by hand.
            explained = explained_after_edit(meta, body.sop, plan.version + 1)
            if explained:
                plan.metadata_ = {**meta, **explained}
            plan.sop = body.sop.model_dump(mode="json")
        plan.plan_title = _title_after(plan, body)
        plan.version += 1
        return plan_out(await self.repo.flush(plan))

    def _problems(self, plan: Plan, sop: SOP) -> list[SOPProblem]:
        """The whole-plan checks, with the plan's dates judged by when it was made."""
        deadline = (plan.metadata_ or {}).get("deadline")
        return check_sop(
            sop,
            now=plan.created_at,
            deadline=datetime.fromisoformat(deadline) if deadline else None,
            hours_per_day=self.hours_per_day,
            # The bound of PATCH /tasks/{id}'s deadline, from now (not the plan's making).
            latest=self.clock() + DEADLINE_AHEAD,
        )

    async def versions(self, plan_id: int) -> list[PlanVersionOut]:
        """Earlier versions, oldest first (the current one is the plan itself)."""
        await self._get(plan_id)
        return [row_out(PlanVersionOut, v) for v in await self.repo.versions(plan_id)]

    async def approve(self, plan_id: int, *, field: str = "plan_id") -> ApprovedOut:
        """draft → approved: the plan becomes a process template and its tasks; a 409
        names `field`, what the caller sent that asks for it."""
        plan = await self._get(plan_id, for_update=True)
        require_transition(plan.status, "approved", field=field, plan_id=plan.id)
        sop = plan_sop(plan)
        # A draft stored under older rules is held to today's before its tasks exist.
        problems = self._problems(plan, sop)
        if problems:
            raise AlmanacError(
                f"plan {plan_id} cannot be approved as it is; edit it first: "
                + plain_problems(sop, problems),
                422,
                errors=[{"field": f"sop.{p.field}", "message": p.message} for p in problems],
            )
        origin = _origins(plan.metadata_ or {})
        checklist = [
            {**task.model_dump(mode="json"), "step": step.id, "step_title": step.title}
            for step in sop.steps
            for task in step.tasks
        ]
        template = await self.ontology.new_template(
            name=plan.plan_title[:255],
            workflow_id=plan.workflow_id,
            engagement_id=plan.engagement_id,
            checklist=checklist,
            status="active",
            metadata_={"plan_id": plan.id, "plan_version": plan.version},
        )
        rows = [
            Task(
                process_template_id=template.id,
                plan_id=plan.id,
                plan_task_key=task.id,
                title=task.title,
                description=task.description or None,
                estimate_hours=task.estimate_hours,
                billable=task.billable,
                priority=task.priority,
                depends_on=list(task.depends_on),
                earliest_start=task.earliest_start,
                deadline=task.deadline,
                client_id=plan.client_id,
                metadata_={"step": step.id, **origin.get(task.id, {})},
            )
            for step in sop.steps
            for task in step.tasks
        ]
        task_ids = await self.repo.add_tasks(rows)
        plan.status = "approved"
        plan.process_template_id = template.id
        return ApprovedOut(
            plan=plan_out(await self.repo.flush(plan)),
            process_template_id=template.id,
            task_ids=task_ids,
            tasks=[
                ApprovedTask(
                    id=r.id,
                    key=r.plan_task_key or "",
                    title=r.title,
                    estimate_hours=r.estimate_hours,
                )
                for r in rows
            ],
        )

    async def set_status(self, plan_id: int, body: PlanStatusIn) -> PlanOut:
        """Move a plan along draft → approved → scheduled → active → completed / cancelled."""
        if body.status == "approved":
            return (await self.approve(plan_id, field="status")).plan
        plan = await self._get(plan_id, for_update=True)
        require_transition(plan.status, body.status, plan_id=plan.id)
        plan.status = body.status
        return plan_out(await self.repo.flush(plan))
