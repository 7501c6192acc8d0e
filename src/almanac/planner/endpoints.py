"""Planner API routes under /api/v1/planner: planning, plans, prompt templates, LLM usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from almanac.auth.deps import AdminOnly, CurrentPrincipal
from almanac.deps import State
from almanac.planner.deps import Choices, Planner, Plans, Prompts
from almanac.planner.preview import PromptPreviewIn, PromptPreviewOut, preview
from almanac.planner.schemas import (
    ApprovedOut,
    Operation,
    OperationChoiceIn,
    OperationChoiceOut,
    OperationChoices,
    PlanIn,
    PlanList,
    PlanOut,
    PlanQuery,
    PlanUpdate,
    PlanVersionOut,
    PromptOut,
    PromptSummary,
    PromptVersionIn,
    UsageOut,
)
from almanac.problems import answers
from almanac.routing import Params, replayed_as_200
from almanac.routing import PathId as Id
from almanac.types import AwareDatetime

router = APIRouter(prefix="/api/v1/planner", tags=["planner"])


Name = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,99}$")]
Version = Annotated[str, Path(pattern=r"^v\d{1,6}$")]


@router.post("/plan", status_code=status.HTTP_201_CREATED, responses=answers(404, 409, 503))
async def plan(
    body: PlanIn, planner: Planner, principal: CurrentPrincipal, response: Response
) -> PlanOut:
    """Turn an intent into a draft plan (LLM when configured, else the workflow library).

    A retry with the same `idempotency_key` (the calling key's own) returns the first plan
    with 200 and plans nothing; the key with another request is a 409."""
    return replayed_as_200(response, await planner.plan(body, caller=principal.key_id))


@router.get("/plans")
async def list_plans(plans: Plans, query: Params[PlanQuery]) -> PlanList:
    """Plans, newest first."""
    return await plans.search(query)


@router.get("/plans/{plan_id}")
async def get_plan(plan_id: Id, plans: Plans) -> PlanOut:
    return await plans.get(plan_id)


@router.put("/plans/{plan_id}", responses=answers(409))
async def update_plan(plan_id: Id, body: PlanUpdate, plans: Plans) -> PlanOut:
    """Edit a draft plan; the previous version is kept."""
    return await plans.update(plan_id, body)


@router.get("/plans/{plan_id}/versions")
async def plan_versions(plan_id: Id, plans: Plans) -> list[PlanVersionOut]:
    return await plans.versions(plan_id)


@router.post("/plans/{plan_id}/approve", responses=answers(409))
async def approve_plan(plan_id: Id, plans: Plans) -> ApprovedOut:
    """draft → approved: creates the process template and its tasks."""
    return await plans.approve(plan_id)


# POST /plans/{plan_id}/status is served by the scheduler (`scheduler.endpoints`): closing a
# plan frees its future blocks, which the planner's layer cannot reach.


@router.get("/prompts")
async def list_prompts(prompts: Prompts) -> list[PromptSummary]:
    return await prompts.summaries()


@router.get("/prompts/{name}")
async def active_prompt(name: Name, prompts: Prompts) -> PromptOut:
    """The active version of a prompt template."""
    return await prompts.active(name)


@router.get("/prompts/{name}/versions")
async def prompt_versions(name: Name, prompts: Prompts) -> list[PromptOut]:
    return await prompts.versions(name)


@router.get("/prompts/{name}/versions/{version}")
async def prompt_version(name: Name, version: Version, prompts: Prompts) -> PromptOut:
    return await prompts.version(name, version)


@router.post(
    "/prompts/{name}/versions", status_code=status.HTTP_201_CREATED, dependencies=[AdminOnly]
)
async def add_prompt_version(name: Name, body: PromptVersionIn, prompts: Prompts) -> PromptOut:
    """Edit a prompt: stores a new version (active only with `activate: true`)."""
    return await prompts.add_version(name, body)


@router.post("/prompts/{name}/versions/{version}/activate", dependencies=[AdminOnly])
async def activate_prompt(name: Name, version: Version, prompts: Prompts) -> PromptOut:
    return await prompts.activate(name, version)


@router.post("/prompts/{name}/versions/{version}/preview")
async def preview_prompt_version(
    name: Name, version: Version, body: PromptPreviewIn, prompts: Prompts, state: State
) -> PromptPreviewOut:
    """What a version renders for a sample input, and the LLM's answer when asked and configured."""
    return await preview(prompts, state.llm, name, version, body)


@router.get("/llm/usage")
async def llm_usage(
    planner: Planner, since: Annotated[AwareDatetime | None, Query()] = None
) -> UsageOut:
    """LLM calls, tokens and cost per operation and model (default: since local midnight)."""
    return await planner.usage(since)


@router.get("/llm/operations")
async def llm_operations(choices: Choices) -> OperationChoices:
    """The model, temperature and token limit of each operation, with a cost estimate."""
    return await choices.overview()


@router.put("/llm/operations/{operation}", dependencies=[AdminOnly])
async def choose_llm_operation(
    operation: Operation, body: OperationChoiceIn, choices: Choices
) -> OperationChoiceOut:
    """Choose the model, temperature or token limit of one operation, from its next call."""
    return await choices.choose(operation, body)


@router.delete("/llm/operations/{operation}", dependencies=[AdminOnly])
async def reset_llm_operation(operation: Operation, choices: Choices) -> OperationChoiceOut:
    """Back to the configured model and token limit."""
    return await choices.reset(operation)
