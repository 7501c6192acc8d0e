"""HTTP routes of the Pattern Ontology under /api/v1/planner."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Response, status

from almanac.deps import State, UoW
from almanac.ontology.importing import import_library
from almanac.ontology.library import library_from_bundle
from almanac.ontology.runs import RunService
from almanac.ontology.schemas import (
    BlueprintIn,
    BlueprintList,
    BlueprintOut,
    BlueprintQuery,
    BlueprintUpdate,
    DeletedOut,
    ProcessTemplateIn,
    ProcessTemplateList,
    ProcessTemplateOut,
    ProcessTemplateUpdate,
    RunList,
    RunOut,
    RunQuery,
    RunStartIn,
    TemplateQuery,
    WorkflowIn,
    WorkflowList,
    WorkflowOut,
    WorkflowQuery,
    WorkflowUpdate,
)
from almanac.ontology.service import OntologyService
from almanac.problems import answers
from almanac.routing import Params, Resource, add_resource_routes, replayed_as_200
from almanac.routing import PathId as Id

router = APIRouter(prefix="/api/v1/planner", tags=["ontology"])


def get_ontology(uow: UoW) -> OntologyService:
    return OntologyService(uow)


def get_runs(uow: UoW, state: State) -> RunService:
    return RunService(uow, ZoneInfo(state.settings.timezone))


Ontology = Annotated[OntologyService, Depends(get_ontology)]
Runs = Annotated[RunService, Depends(get_runs)]

# -- service blueprints, workflows, process templates: the same five routes each ----------

add_resource_routes(
    router,
    Resource(
        "/blueprints",
        "blueprint",
        Ontology,
        BlueprintIn,
        BlueprintUpdate,
        BlueprintOut,
        BlueprintQuery,
        BlueprintList,
        DeletedOut,
        "blueprint",
        docs={
            "create": "Add a service blueprint: an ordered sequence of existing workflows.",
            "list": "Service blueprints in id order, filtered by offer or a name substring.",
            "update": "Change the fields given.",
        },
    ),
)


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


add_resource_routes(
    router,
    Resource(
        "/workflows",
        "workflow",
        Ontology,
        WorkflowIn,
        WorkflowUpdate,
        WorkflowOut,
        WorkflowQuery,
        WorkflowList,
        DeletedOut,
        "workflow",
        docs={
            "create": "Add a workflow; its steps must form a valid SOP.",
            "list": "Workflows in id order, filtered by capability, parent, or a name "
            "substring (`q`).",
            "get": "A workflow with its total hours and its children's ids.",
            "update": "Change the fields given.",
            "delete": "Delete a workflow nothing refers to (409 otherwise).",
        },
    ),
)
add_resource_routes(
    router,
    Resource(
        "/process-templates",
        "process_template",
        Ontology,
        ProcessTemplateIn,
        ProcessTemplateUpdate,
        ProcessTemplateOut,
        TemplateQuery,
        ProcessTemplateList,
        DeletedOut,
        "process_template",
        method="template",
        id_name="template_id",
        docs={
            "create": "Instantiate a workflow for an engagement (the checklist defaults to its "
            "steps).",
            "update": "Change the fields given.",
            "delete": "Delete a template and its tasks; 409 while execution runs or plans "
            "refer to it.",
        },
    ),
)


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
    """Start a work session (idempotent with `run_identifier`). A done or cancelled task is
    a 409: reopen it to time more work, or record hours worked with `POST /tasks/{id}/time`."""
    return replayed_as_200(response, await runs.start(body))


# POST /execution-runs/{run_id}/stop lives in `tasks/endpoints.py`: the hours it records
# shrink the task's future blocks in the calendar (the scheduler is above this layer).


@router.get("/execution-runs")
async def list_runs(runs: Runs, query: Params[RunQuery]) -> RunList:
    return await runs.list(query)


@router.get("/execution-runs/{run_id}")
async def get_run(run_id: Id, runs: Runs) -> RunOut:
    return await runs.get(run_id)
