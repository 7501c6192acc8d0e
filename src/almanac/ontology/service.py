"""The Pattern Ontology's behaviour: workflows, service blueprints and process templates.

Services never commit: requests commit in `deps.get_uow`, the CLI in its own UnitOfWork.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from almanac.db.repository import assign, new_row, row_out
from almanac.db.uow import UnitOfWork
from almanac.errors import Conflict, ValidationFailed
from almanac.models import ProcessTemplate, ServiceBlueprint, Workflow
from almanac.ontology.checks import (
    checklist_steps,
    dump_steps,
    flatten,
    invalid,
    sop_problems,
    steps_hours,
)
from almanac.ontology.repository import OntologyRepository
from almanac.ontology.schemas import (
    BlueprintIn,
    BlueprintList,
    BlueprintOut,
    BlueprintQuery,
    BlueprintUpdate,
    ProcessTemplateIn,
    ProcessTemplateList,
    ProcessTemplateOut,
    ProcessTemplateUpdate,
    TemplateQuery,
    WorkflowIn,
    WorkflowList,
    WorkflowOut,
    WorkflowQuery,
    WorkflowUpdate,
)
from almanac.ontology.sop import stored_step


def workflow_out(row: Workflow, children: list[int]) -> WorkflowOut:
    count, hours = steps_hours(row.steps)
    return row_out(WorkflowOut, row, children=children, task_count=count, total_hours=hours)


def blueprint_out(row: ServiceBlueprint) -> BlueprintOut:
    sequence = [
        x for x in (row.workflow_sequence or []) if isinstance(x, int) and not isinstance(x, bool)
    ]
    return row_out(BlueprintOut, row, workflow_sequence=sequence)


def template_out(row: ProcessTemplate) -> ProcessTemplateOut:
    return row_out(ProcessTemplateOut, row, total_hours=steps_hours(row.checklist)[1])


def _in_use(kind: str, field: str, row_id: int, users: dict[str, list[int]]) -> Conflict:
    listed = "; ".join(f"{label}: {', '.join(map(str, ids))}" for label, ids in users.items())
    return Conflict(
        f"{kind} {row_id} is still in use ({listed}); delete or re-point those first",
        field=field,
    )


class OntologyService:
    """CRUD with the checks the database cannot make (SOP validity, parent cycles, refs)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = OntologyRepository(uow.session)

    # -- shared checks -------------------------------------------------------------------

    async def require_workflows(self, ids: Sequence[int], field: str) -> dict[int, Workflow]:
        """The workflows `ids`, share-locked; 422 naming `field` when any is missing."""
        found = await self.repo.existing_workflows(ids)
        missing = sorted({i for i in ids if i not in found})
        if missing:
            raise ValidationFailed(
                f"no workflow with id {', '.join(map(str, missing))}", field=field
            )
        return found

    async def unique_workflow(self, name: str, version: str, own_id: int | None) -> None:
        """409 when another workflow already has this name and version."""
        await self.repo.lock_workflow_name(name, version)
        other = await self.repo.find_workflow(name, version)
        if other is not None and other.id != own_id:
            raise Conflict(
                f"workflow {name!r} version {version!r} already exists (id {other.id}); "
                "use another version to keep both",
                field="version",
            )

    async def _check_parent(self, workflow_id: int | None, parent_id: int) -> None:
        await self.require_workflows([parent_id], "parent_workflow_id")
        if workflow_id is None:
            return
        chain = await self.repo.ancestors(parent_id)
        if workflow_id in chain:
            path = " -> ".join(map(str, [workflow_id, *chain[: chain.index(workflow_id) + 1]]))
            raise ValidationFailed(
                f"parent_workflow_id {parent_id} would make a parent cycle: {path}",
                field="parent_workflow_id",
            )

    # -- workflows -----------------------------------------------------------------------

    async def _workflow_out(self, row: Workflow) -> WorkflowOut:
        return workflow_out(row, (await self.repo.children([row.id]))[row.id])

    async def create_workflow(self, body: WorkflowIn) -> WorkflowOut:
        """Store a workflow whose steps pass the SOP checks."""
        if problems := sop_problems(body.name, body.steps):
            raise invalid(problems)
        await self.unique_workflow(body.name, body.version, None)
        if body.parent_workflow_id is not None:
            await self._check_parent(None, body.parent_workflow_id)
        row = new_row(Workflow, body, steps=dump_steps(body.steps))
        return await self._workflow_out(await self.repo.add(row))

    async def get_workflow(self, workflow_id: int) -> WorkflowOut:
        return await self._workflow_out(await self.repo.require(Workflow, workflow_id, "workflow"))

    async def list_workflows(self, query: WorkflowQuery) -> WorkflowList:
        stmt = self.repo.workflows_query(**query.filters())
        rows, total = await self.repo.page(stmt, [Workflow.id], query.limit, query.offset)
        children = await self.repo.children([r.id for r in rows])
        return WorkflowList(items=[workflow_out(r, children[r.id]) for r in rows], total=total)

    async def update_workflow(self, workflow_id: int, body: WorkflowUpdate) -> WorkflowOut:
        """Change the fields given; steps are re-checked, a new parent must not close a cycle."""
        fields = body.model_fields_set
        reparent = "parent_workflow_id" in fields and body.parent_workflow_id is not None
        if reparent:
            await self.repo.lock_tree()  # before the row lock: one lock order, no deadlock
        row = await self.repo.require(Workflow, workflow_id, "workflow", lock="edit")
        name = body.name if body.name is not None else row.name
        version = body.version if body.version is not None else row.version
        if body.steps is not None and (problems := sop_problems(name, body.steps)):
            raise invalid(problems)
        if (name, version) != (row.name, row.version):
            await self.unique_workflow(name, version, row.id)
        if reparent:
            assert body.parent_workflow_id is not None
            await self._check_parent(row.id, body.parent_workflow_id)
        row.name, row.version = name, version
        if body.steps is not None:
            row.steps = dump_steps(body.steps)
        assign(row, body, nullable=("capability", "parent_workflow_id"), given=("metadata",))
        return await self._workflow_out(await self.repo.save(row))

    async def delete_workflow(self, workflow_id: int) -> None:
        """Delete an unused workflow; 409 names what still refers to it."""
        row = await self.repo.require(Workflow, workflow_id, "workflow", lock="update")
        users = await self.repo.workflow_users(workflow_id)
        if users:
            raise _in_use("workflow", "workflow_id", workflow_id, users)
        await self.repo.remove(row)

    # -- service blueprints --------------------------------------------------------------

    async def sequence_hours(self, sequence: Sequence[int]) -> float:
        """The sum of the sequence's task estimates (a repeated workflow counts each time)."""
        found = await self.require_workflows(sequence, "workflow_sequence")
        return round(sum(steps_hours(found[i].steps)[1] for i in sequence), 4)

    async def create_blueprint(self, body: BlueprintIn) -> BlueprintOut:
        hours = await self.sequence_hours(body.workflow_sequence)
        row = new_row(
            ServiceBlueprint,
            body,
            workflow_sequence=list(body.workflow_sequence),
            estimated_duration_hrs=(
                body.estimated_duration_hrs if body.estimated_duration_hrs is not None else hours
            ),
        )
        return blueprint_out(await self.repo.add(row))

    async def get_blueprint(self, blueprint_id: int) -> BlueprintOut:
        return blueprint_out(
            await self.repo.require(ServiceBlueprint, blueprint_id, "service blueprint")
        )

    async def list_blueprints(self, query: BlueprintQuery) -> BlueprintList:
        stmt = self.repo.blueprints_query(**query.filters())
        rows, total = await self.repo.page(stmt, [ServiceBlueprint.id], query.limit, query.offset)
        return BlueprintList(items=[blueprint_out(r) for r in rows], total=total)

    async def update_blueprint(self, blueprint_id: int, body: BlueprintUpdate) -> BlueprintOut:
        """Change the fields given; a new sequence without an estimate re-derives it."""
        fields = body.model_fields_set
        row = await self.repo.require(
            ServiceBlueprint, blueprint_id, "service blueprint", lock="edit"
        )
        if body.workflow_sequence is not None:
            hours = await self.sequence_hours(body.workflow_sequence)
            row.workflow_sequence = list(body.workflow_sequence)
            if "estimated_duration_hrs" not in fields:
                row.estimated_duration_hrs = hours
        assign(
            row,
            body,
            nullable=("description", "offer_id", "estimated_duration_hrs"),
            given=("name", "metadata"),
        )
        return blueprint_out(await self.repo.save(row))

    async def delete_blueprint(self, blueprint_id: int) -> None:
        await self.repo.remove(
            await self.repo.require(
                ServiceBlueprint, blueprint_id, "service blueprint", lock="update"
            )
        )

    # -- process templates ---------------------------------------------------------------

    @staticmethod
    def _workflow_checklist(workflow: Workflow) -> list[dict[str, Any]]:
        try:
            steps = [stored_step(s) for s in workflow.steps]
        except ValidationError as exc:  # steps written outside this API
            raise ValidationFailed(
                f"workflow {workflow.id} has invalid steps; give a checklist", field="workflow_id"
            ) from exc
        return flatten(steps)

    async def create_template(self, body: ProcessTemplateIn) -> ProcessTemplateOut:
        """Instantiate a workflow (or a given checklist) for an engagement."""
        workflow = None
        if body.workflow_id is not None:
            workflow = (await self.require_workflows([body.workflow_id], "workflow_id"))[
                body.workflow_id
            ]
        if body.checklist is not None:
            checklist = checklist_steps(body.name, body.checklist)
        elif workflow is not None:
            checklist = self._workflow_checklist(workflow)
        else:
            raise ValidationFailed(
                "give a checklist, or a workflow_id to copy its steps from", field="checklist"
            )
        row = new_row(ProcessTemplate, body, checklist=checklist)
        return template_out(await self.repo.add(row))

    async def get_template(self, template_id: int) -> ProcessTemplateOut:
        return template_out(
            await self.repo.require(ProcessTemplate, template_id, "process template")
        )

    async def list_templates(self, query: TemplateQuery) -> ProcessTemplateList:
        stmt = self.repo.templates_query(**query.filters())
        rows, total = await self.repo.page(stmt, [ProcessTemplate.id], query.limit, query.offset)
        return ProcessTemplateList(items=[template_out(r) for r in rows], total=total)

    async def update_template(
        self, template_id: int, body: ProcessTemplateUpdate
    ) -> ProcessTemplateOut:
        fields = body.model_fields_set
        row = await self.repo.require(ProcessTemplate, template_id, "process template", lock="edit")
        name = body.name if body.name is not None else row.name
        if body.checklist is not None:
            row.checklist = checklist_steps(name, body.checklist)
        if "workflow_id" in fields:
            if body.workflow_id is not None:
                await self.require_workflows([body.workflow_id], "workflow_id")
            row.workflow_id = body.workflow_id
        row.name = name
        assign(row, body, nullable=("engagement_id", "project_id"), given=("status", "metadata"))
        return template_out(await self.repo.save(row))

    async def delete_template(self, template_id: int) -> None:
        """Delete a template (its tasks go with it); 409 while runs or plans refer to it."""
        row = await self.repo.require(
            ProcessTemplate, template_id, "process template", lock="update"
        )
        users = await self.repo.template_users(template_id)
        if users:
            raise _in_use("process template", "template_id", template_id, users)
        await self.repo.remove(row)
