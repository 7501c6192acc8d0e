"""Request and response shapes of the Planner API (plans and prompt templates)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from almanac.llm.base import LLMUse
from almanac.models.status import PlanStatus
from almanac.ontology.sop import SOP
from almanac.types import (
    NOT_BLANK,
    NOT_BOOL,
    VISIBLE,
    BigId,
    Deadline,
    IntId,
    PageQuery,
    Strict,
    json_document,
)

Intent = Annotated[str, Field(min_length=3, max_length=4000), NOT_BLANK, VISIBLE]
PlanSource = Literal["llm", "library"]
# "calibrated": learnt from past runs (per workflow, client and task); "library": as written.
EstimatesMode = Literal["calibrated", "library"]
# Printable ASCII without spaces, as UUIDs, ULIDs and "retry-2026-12-01T10:00" are.
IdempotencyKey = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=~-]*$")
]


class PlanIn(Strict):
    """What to plan."""

    intent: Intent
    client_id: IntId | None = None
    engagement_id: IntId | None = None
    workflow_id: BigId | None = None
    deadline: Deadline | None = None
    context: Annotated[str, Field(max_length=20_000)] | None = None
    # None: the server's default (planner.estimates).
    estimates: EstimatesMode | None = None
    # A retry with the same key returns the plan the first request made (200, no new plan).
    idempotency_key: IdempotencyKey | None = None

    @field_validator("intent")
    @classmethod
    def _intent_not_blank(cls, value: str) -> str:
        # A field validator, so the problem names `intent` (a model's named the body).
        if len(value.strip()) < 3:
            raise ValueError("intent must say what to plan (at least 3 characters)")
        return value


class Calibration(BaseModel):
    """One estimate changed from history."""

    task_id: str
    from_hours: float
    to_hours: float
    ratio: float
    runs: int  # this workflow's task runs, all clients
    client_runs: int = 0  # of them, this plan's client's
    basis: Literal["task", "workflow", "client"]
    reason: str


class TaskEstimate(BaseModel):
    """How one task's estimate was made, and how sure it is (an 80% interval)."""

    task_id: str
    workflow_id: int | None = None
    workflow_task: str | None = None
    library_hours: float | None  # the baseline every ratio is measured against
    hours: float
    low_hours: float
    high_hours: float
    ratio: float  # hours / library_hours before rounding
    # library: no history used; workflow: this workflow's runs (all clients); client: this
    # client's runs too; plan: a task the library does not have (the LLM's estimate);
    # hand: set by hand in an edit of the plan (the note says what it was).
    basis: Literal["library", "workflow", "client", "plan", "hand"]
    runs: int = 0
    client_runs: int = 0
    task_runs: int = 0
    effective_runs: float = 0.0  # after recency, change and outlier weights
    last_run_at: datetime | None = None
    change_detected_at: datetime | None = None
    capped: bool = False  # a bound applied: 0.2x-5x the library, or the 200 h task limit
    note: str


class RecalledItem(BaseModel):
    """A memory or fact the plan was made with."""

    kind: str
    id: int
    content: str
    score: float | None = None


class MatchCandidate(BaseModel):
    kind: str  # workflow | blueprint
    id: int
    name: str
    score: float


class MatchOut(BaseModel):
    """How the library was matched: the confidence (0..1) against the threshold, and the
    next best candidates, so a plan can be checked without an LLM."""

    confidence: float | None
    threshold: float
    chosen: MatchCandidate | None
    alternatives: list[MatchCandidate] = Field(default_factory=list)


class PlanOut(BaseModel):
    """A stored plan."""

    id: int
    plan_title: str
    intent: str
    status: PlanStatus
    version: int
    client_id: int | None
    engagement_id: int | None
    workflow_id: int | None
    process_template_id: int | None
    # None when the stored SOP no longer reads as one (`sop_error` says why): one such row
    # must not make listing every plan fail. PUT a new SOP to repair it.
    sop: SOP | None
    sop_error: str | None = None
    total_hours: float
    source: PlanSource | None = None
    llm: LLMUse | None = None
    calibration: list[Calibration] = Field(default_factory=list)
    estimates_mode: EstimatesMode | None = None
    estimates: list[TaskEstimate] = Field(default_factory=list)
    context: list[RecalledItem] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    degraded: list[str] = Field(default_factory=list)
    deadline: datetime | None = None
    match: MatchOut | None = None
    created_at: datetime
    updated_at: datetime


class PlanQuery(PageQuery):
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    client_id: IntId | None = None
    status: PlanStatus | None = None


class PlanList(BaseModel):
    items: list[PlanOut]
    total: int


class PlanUpdate(Strict):
    """An edit: a new title and/or SOP. `version` guards against overwriting someone's edit."""

    plan_title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    sop: SOP | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None
    version: IntId | None = None

    @field_validator("plan_title")
    @classmethod
    def _title_said(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must contain non-whitespace text")
        return value

    @model_validator(mode="after")
    def _something(self) -> PlanUpdate:
        if self.plan_title is None and self.sop is None:
            raise ValueError("give plan_title and/or sop to change")
        return self


class PlanStatusIn(Strict):
    status: Literal["approved", "active", "completed", "cancelled"]


class PlanVersionOut(BaseModel):
    version: int
    plan_title: str
    sop: dict[str, Any]
    status: str
    note: str | None
    created_at: datetime


class ApprovedTask(BaseModel):
    id: int
    key: str
    title: str
    estimate_hours: float | None


class ApprovedOut(BaseModel):
    """The approved plan and what approval created."""

    plan: PlanOut
    process_template_id: int
    task_ids: list[int]
    tasks: list[ApprovedTask] = Field(default_factory=list)


class PromptVersionIn(Strict):
    content: Annotated[str, Field(min_length=20, max_length=50_000)]
    activate: bool = False


class PromptOut(BaseModel):
    template_name: str
    template_type: str
    version: str
    is_active: bool
    content: str
    created_at: datetime
    # When it last gave way to another version: a rollback goes to the latest such.
    deactivated_at: datetime | None = None


class PromptSummary(BaseModel):
    template_name: str
    template_type: str
    active_version: str | None
    versions: list[str]


class UsageRow(BaseModel):
    operation: str
    model: str
    calls: int
    failed: int
    rejected: int = 0  # answers that fit the schema but failed the content checks
    tokens_in: int
    tokens_out: int
    cost: float | None
    mean_latency_ms: float


class PromptUsageRow(BaseModel):
    prompt_template: str
    prompt_version: str | None
    calls: int
    failed: int
    rejected: int
    tokens_in: int
    tokens_out: int
    cost: float | None


class UsageOut(BaseModel):
    since: datetime
    rows: list[UsageRow]
    # The same calls by prompt template and version (to compare versions by cost and rejections).
    prompts: list[PromptUsageRow] = Field(default_factory=list)
    planning_calls_today: int
    daily_planning_cap: int


class PreviewIn(Strict):
    """A sample input for a prompt version (see planner/preview.py for each template's)."""

    version: Annotated[str | None, Field(pattern=r"^v\d{1,6}$")] = None
    # A sample report can be larger than metadata, but depth and strings are bounded alike.
    input: Annotated[dict[str, Any], json_document(256 * 1024)]
    call_llm: bool = True


class PreviewMessage(BaseModel):
    role: str
    content: str


class PreviewOut(BaseModel):
    """What the version renders, and with an LLM, its answer and the checks' verdict."""

    template_name: str
    version: str
    operation: str
    messages: list[PreviewMessage]
    skeleton: str | None = None  # the library workflow an intent matched (sop_generator)
    llm: LLMUse
    answer: dict[str, Any] | None = None
    accepted: bool | None = None
    rejection: list[str] = Field(default_factory=list)


Operation = Literal["planning", "scheduling", "reflection", "extraction"]
# OpenRouter's "vendor/model:variant", Ollama's "name:tag", plain OpenAI names.
ModelName = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
]


class OperationChoiceIn(Strict):
    """What to use for one operation from now on; a field left out means "as configured"."""

    model: ModelName | None = None
    temperature: Annotated[float, Field(ge=0, le=2), NOT_BOOL] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=32768), NOT_BOOL] | None = None


class CostEstimate(BaseModel):
    """What the operation costs with its model, from the calls recorded over 30 days."""

    per_call: float | None
    per_30_days: float | None
    basis: str


class OperationChoiceOut(BaseModel):
    operation: Operation
    # The model a call uses now; None when no LLM is configured and none was chosen.
    model: str | None
    source: Literal["dashboard", "settings"]
    temperature: float | None  # None: the server's default
    max_tokens: int | None
    configured_model: str | None
    configured_max_tokens: int | None
    calls_30_days: int
    mean_tokens_per_call: float | None
    estimate: CostEstimate
    updated_at: datetime | None


class OperationChoices(BaseModel):
    llm_configured: bool
    note: str
    operations: list[OperationChoiceOut]
