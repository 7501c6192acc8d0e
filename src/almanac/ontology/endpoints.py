"""HTTP routes of the Pattern Ontology under /api/v1/planner."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status

from almanac.deps import UoW
from almanac.ontology.library import import_library, library_from_bundle
from almanac.ontology.runs import RunService
from almanac.ontology.schemas import (
    BlueprintIn,
    BlueprintList,
    BlueprintOut,
    BlueprintUpdate,
    Capability,
    DeletedOut,
    ProcessTemplateIn,
    ProcessTemplateList,
    ProcessTemplateOut,
    ProcessTemplateUpdate,
    RunList,
    RunOut,
    RunStartIn,
    RunStatus,
    RunStopIn,
    TemplateStatus,
    WorkflowIn,
    WorkflowList,
    WorkflowOut,
    WorkflowUpdate,
)
from almanac.ontology.service import OntologyService
from almanac.problems import answers
from almanac.types import BIGINT_MAX, INT_MAX, SafeStr
from almanac.types import Offset as OffsetValue

router = APIRouter(prefix="/api/v1/planner", tags=["ontology"])


def get_ontology(uow: UoW) -> OntologyService:
    return OntologyService(uow)


def get_runs(uow: UoW) -> RunService:
    return RunService(uow)


Ontology = Annotated[OntologyService, Depends(get_ontology)]
Runs = Annotated[RunService, Depends(get_runs)]
Id = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
RefId = Annotated[int | None, Query(ge=1, le=BIGINT_MAX)]
SmallRefId = Annotated[int | None, Query(ge=1, le=INT_MAX)]
Search = Annotated[SafeStr | None, Query(min_length=1, max_length=255)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[OffsetValue, Query()]

# -- service blueprints -------------------------------------------------------------------


@router.post("/blueprints", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def create_blueprint(body: BlueprintIn, ontology: Ontology) -> BlueprintOut:
    """Add a service blueprint: an ordered sequence of existing workflows."""
    return await ontology.create_blueprint(body)


@router.get("/blueprints")
async def list_blueprints(
    ontology: Ontology,
    offer_id: SmallRefId = None,
    q: Search = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> BlueprintList:
    """Service blueprints in id order, filtered by offer or a name substring."""
    return await ontology.list_blueprints(offer_id=offer_id, q=q, limit=limit, offset=offset)


@router.get("/blueprints/{blueprint_id}")
async def get_blueprint(blueprint_id: Id, ontology: Ontology) -> BlueprintOut:
    return await ontology.get_blueprint(blueprint_id)


@router.put("/blueprints/{blueprint_id}", responses=answers(409))
async def update_blueprint(
    blueprint_id: Id, body: BlueprintUpdate, ontology: Ontology
) -> BlueprintOut:
    """Change the fields given."""
    return await ontology.update_blueprint(blueprint_id, body)


@router.delete("/blueprints/{blueprint_id}", responses=answers(409))
async def delete_blueprint(blueprint_id: Id, ontology: Ontology) -> DeletedOut:
    await ontology.delete_blueprint(blueprint_id)
    return DeletedOut(id=blueprint_id, kind="blueprint")


# -- workflows ----------------------------------------------------------------------------


@router.post("/workflows/import", responses=answers(409))
async def import_starter_library(
    uow: UoW, body: Annotated[dict[str, Any] | None, Body()] = None
) -> dict[str, Any]:
    """Import workflows and blueprints: the body's `{"workflows": [...], "blueprints":
    [...]}`, or the starter library without a body. Importing twice changes nothing."""
    library = library_from_bundle(body) if body is not None else None
    report = await import_library(uow, library=library)
    return {
        "workflows": asdict(report.workflows),
        "blueprints": asdict(report.blueprints),
        "items": report.items,
    }


@router.post("/workflows", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def create_workflow(body: WorkflowIn, ontology: Ontology) -> WorkflowOut:
    """Add a workflow; its steps must form a valid SOP."""
    return await ontology.create_workflow(body)


@router.get("/workflows")
async def list_workflows(
    ontology: Ontology,
    capability: Annotated[Capability | None, Query()] = None,
    parent_workflow_id: RefId = None,
    q: Search = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> WorkflowList:
    """Workflows in id order, filtered by capability, parent, or a name substring (`q`)."""
    return await ontology.list_workflows(
        capability=capability,
        parent_workflow_id=parent_workflow_id,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get("/workflows/{workflow_id}")
async def get_workflow(workflow_id: Id, ontology: Ontology) -> WorkflowOut:
    """A workflow with its total hours and its children's ids."""
    return await ontology.get_workflow(workflow_id)


@router.put("/workflows/{workflow_id}", responses=answers(409))
async def update_workflow(workflow_id: Id, body: WorkflowUpdate, ontology: Ontology) -> WorkflowOut:
    """Change the fields given."""
    return await ontology.update_workflow(workflow_id, body)


@router.delete("/workflows/{workflow_id}", responses=answers(409))
async def delete_workflow(workflow_id: Id, ontology: Ontology) -> DeletedOut:
    """Delete a workflow nothing refers to (409 otherwise)."""
    await ontology.delete_workflow(workflow_id)
    return DeletedOut(id=workflow_id, kind="workflow")


# -- process templates --------------------------------------------------------------------


@router.post("/process-templates", status_code=status.HTTP_201_CREATED, responses=answers(404, 409))
async def create_process_template(
    body: ProcessTemplateIn, ontology: Ontology
) -> ProcessTemplateOut:
    """Instantiate a workflow for an engagement (the checklist defaults to its steps)."""
    return await ontology.create_template(body)


@router.get("/process-templates")
async def list_process_templates(
    ontology: Ontology,
    workflow_id: RefId = None,
    engagement_id: SmallRefId = None,
    status: TemplateStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ProcessTemplateList:
    return await ontology.list_templates(
        workflow_id=workflow_id,
        engagement_id=engagement_id,
        status=status,
        limit=limit,
        offset=offset,
    )


@router.get("/process-templates/{template_id}")
async def get_process_template(template_id: Id, ontology: Ontology) -> ProcessTemplateOut:
    return await ontology.get_template(template_id)


@router.put("/process-templates/{template_id}", responses=answers(409))
async def update_process_template(
    template_id: Id, body: ProcessTemplateUpdate, ontology: Ontology
) -> ProcessTemplateOut:
    """Change the fields given."""
    return await ontology.update_template(template_id, body)


@router.delete("/process-templates/{template_id}", responses=answers(409))
async def delete_process_template(template_id: Id, ontology: Ontology) -> DeletedOut:
    """Delete a template and its tasks; 409 while execution runs or plans refer to it."""
    await ontology.delete_template(template_id)
    return DeletedOut(id=template_id, kind="process_template")


# -- execution runs -----------------------------------------------------------------------


@router.post(
    "/execution-runs",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A retry with a known run_identifier: the existing run"},
        **answers(404, 409),
    },
)
async def start_run(body: RunStartIn, runs: Runs, response: Response) -> RunOut:
    """Start a work session (idempotent with `run_identifier`)."""
    run, created = await runs.start(body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.post("/execution-runs/{run_id}/stop", responses=answers(409))
async def stop_run(run_id: Id, runs: Runs, body: RunStopIn | None = None) -> RunOut:
    """Complete a run; `variance_pct` is computed by Postgres from the hours."""
    return await runs.stop(run_id, body or RunStopIn())


@router.get("/execution-runs")
async def list_runs(
    runs: Runs,
    process_template_id: RefId = None,
    task_id: RefId = None,
    status: RunStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RunList:
    return await runs.list(
        process_template_id=process_template_id,
        task_id=task_id,
        status=status,
        limit=limit,
        offset=offset,
    )


@router.get("/execution-runs/{run_id}")
async def get_run(run_id: Id, runs: Runs) -> RunOut:
    return await runs.get(run_id)
