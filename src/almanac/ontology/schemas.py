"""Request and response shapes of the Pattern Ontology API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    field_validator,
    model_validator,
)

from almanac.models.status import RunStatus, TemplateStatus
from almanac.ontology.checks import ChecklistItem
from almanac.ontology.sop import SOPStep, bounded_tasks
from almanac.types import (
    NOT_BLANK,
    NOT_BOOL,
    BigId,
    IntId,
    Metadata,
    PageQuery,
    SafeStr,
    Strict,
    WorkTime,
    json_document,
    six_decimals,
)

_JSON_LIMIT = 256_000  # bytes of one telemetry/steps document


Id = BigId
SmallId = IntId
Name = Annotated[SafeStr, Field(min_length=1, max_length=255), NOT_BLANK]
Description = Annotated[SafeStr, Field(max_length=20_000)]
Capability = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_-]{0,99}$", description="e.g. discovery, delivery, ops, growth"),
]
Version = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$")]
# A subnormal estimate made the run's variance overflow (a 500 when it was stopped).
RUN_HOURS_MAX = 10_000
# The most a timer's own time counts as worked when stopped without hours: a day's, as a
# time record holds at most.
TIMED_HOURS_MAX = 24
Hours = Annotated[
    float,
    Field(ge=0, le=RUN_HOURS_MAX, allow_inf_nan=False),
    NOT_BOOL,
    AfterValidator(six_decimals),
]
Steps = Annotated[
    list[SOPStep],
    Field(min_length=1, max_length=50),
    AfterValidator(bounded_tasks),
    json_document(_JSON_LIMIT),
]
Checklist = Annotated[
    list[SOPStep] | list[ChecklistItem],
    Field(min_length=1, max_length=5000, description="Steps, or flat items as the planner stores"),
    AfterValidator(bounded_tasks),  # MAX_PLAN_TASKS tasks in all, however they are grouped
    json_document(_JSON_LIMIT),
]
RunIdentifier = Annotated[SafeStr, Field(min_length=1, max_length=255), NOT_BLANK]


def _not_null(value: Any) -> Any:
    # Only fields that may be cleared accept an explicit null in an update.
    if value is None:
        raise ValueError("cannot be null")
    return value


class _Update(Strict):
    """A partial update: the fields given replace the stored ones; at least one is needed."""

    @model_validator(mode="after")
    def _something(self) -> _Update:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class Page(BaseModel):
    total: int


Search = Annotated[SafeStr, Field(min_length=1, max_length=255)]


class WorkflowQuery(PageQuery):
    capability: Capability | None = None
    parent_workflow_id: Id | None = None
    q: Search | None = Field(None, description="a substring of the name")


class BlueprintQuery(PageQuery):
    offer_id: SmallId | None = None
    q: Search | None = Field(None, description="a substring of the name")


class TemplateQuery(PageQuery):
    workflow_id: Id | None = None
    engagement_id: SmallId | None = None
    status: TemplateStatus | None = None


class RunQuery(PageQuery):
    process_template_id: Id | None = None
    task_id: Id | None = None
    status: RunStatus | None = None


# -- workflows ---------------------------------------------------------------------------


class WorkflowIn(Strict):
    """A reusable SOP: steps of tasks with estimates and dependencies."""

    name: Name
    capability: Capability | None = None
    version: Version = "1.0"
    steps: Steps
    parent_workflow_id: Id | None = None
    metadata: Metadata = Field(default_factory=dict)


class WorkflowUpdate(_Update):
    name: Name | None = None
    capability: Capability | None = None
    version: Version | None = None
    steps: Steps | None = None
    parent_workflow_id: Id | None = None
    metadata: Metadata | None = None

    _required = field_validator("name", "version", "steps", "metadata")(_not_null)


class WorkflowOut(BaseModel):
    id: int
    name: str
    capability: str | None
    version: str
    steps: list[Any]
    parent_workflow_id: int | None
    children: list[int]
    metadata: dict[str, Any]
    task_count: int
    total_hours: float
    created_at: datetime
    updated_at: datetime


class WorkflowList(Page):
    items: list[WorkflowOut]


# -- service blueprints ------------------------------------------------------------------


class BlueprintIn(Strict):
    """An end-to-end offering: workflows in order (a workflow may appear more than once)."""

    name: Name
    description: Description | None = None
    offer_id: SmallId | None = None
    workflow_sequence: Annotated[list[Id], Field(min_length=1, max_length=100)]
    estimated_duration_hrs: Hours | None = Field(
        default=None, description="Default: the sum of the workflows' task estimates"
    )
    metadata: Metadata = Field(default_factory=dict)


class BlueprintUpdate(_Update):
    name: Name | None = None
    description: Description | None = None
    offer_id: SmallId | None = None
    workflow_sequence: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    estimated_duration_hrs: Hours | None = None
    metadata: Metadata | None = None

    _required = field_validator("name", "workflow_sequence", "metadata")(_not_null)


class BlueprintOut(BaseModel):
    id: int
    name: str
    description: str | None
    offer_id: int | None
    workflow_sequence: list[int]
    estimated_duration_hrs: float | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class BlueprintList(Page):
    items: list[BlueprintOut]


# -- process templates -------------------------------------------------------------------


class ProcessTemplateIn(Strict):
    """A workflow instantiated for an engagement; the checklist defaults to its steps."""

    name: Name
    workflow_id: Id | None = None
    engagement_id: SmallId | None = None
    project_id: SmallId | None = None
    checklist: Checklist | None = None
    status: TemplateStatus = "draft"
    metadata: Metadata = Field(default_factory=dict)


class ProcessTemplateUpdate(_Update):
    name: Name | None = None
    workflow_id: Id | None = None
    engagement_id: SmallId | None = None
    project_id: SmallId | None = None
    checklist: Checklist | None = None
    status: TemplateStatus | None = None
    metadata: Metadata | None = None

    _required = field_validator("name", "checklist", "status", "metadata")(_not_null)


class ProcessTemplateOut(BaseModel):
    id: int
    name: str
    workflow_id: int | None
    engagement_id: int | None
    project_id: int | None
    checklist: list[Any]
    status: str
    metadata: dict[str, Any]
    total_hours: float
    created_at: datetime
    updated_at: datetime


class ProcessTemplateList(Page):
    items: list[ProcessTemplateOut]


# -- execution runs ----------------------------------------------------------------------


class RunStartIn(Strict):
    """Start a work session on a process template and/or one of its tasks."""

    process_template_id: Annotated[Id, NOT_BOOL] | None = None
    task_id: Annotated[Id, NOT_BOOL] | None = None  # true was task 1
    estimated_hours: Hours | None = Field(
        default=None, description="Default: the task's estimate_hours"
    )
    started_at: WorkTime | None = Field(
        default=None, description="Default: now; at most 1 day ahead and 5 years back"
    )
    run_identifier: RunIdentifier | None = Field(
        default=None, description="Makes the start idempotent: a retry returns the same run"
    )
    telemetry: Annotated[dict[str, Any], json_document(_JSON_LIMIT)] | None = None
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> RunStartIn:
        if self.process_template_id is None and self.task_id is None:
            raise ValueError("give process_template_id and/or task_id")
        return self


class RunStopIn(Strict):
    ended_at: WorkTime | None = Field(
        default=None, description="Default: now; at most 1 day ahead and 5 years back"
    )
    actual_hours: Hours | None = Field(default=None, description="Default: the elapsed hours")
    telemetry: Annotated[dict[str, Any], json_document(_JSON_LIMIT)] | None = None


class RunOut(BaseModel):
    id: int
    process_template_id: int | None
    task_id: int | None
    run_identifier: str | None
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    estimated_hours: float | None
    actual_hours: float | None
    variance_pct: float | None = Field(description="Computed by Postgres: (actual - est) / est")
    telemetry: dict[str, Any] | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = Field(
        default_factory=list,
        description="Said when the run starts: timers still running on other tasks (both "
        "count the time from then on)",
    )


class RunList(Page):
    items: list[RunOut]


class DeletedOut(BaseModel):
    deleted: bool = True
    id: int
    kind: Literal["blueprint", "workflow", "process_template"]
