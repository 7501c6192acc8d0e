"""Request and response shapes of the Observer, and the schemas the LLM must answer in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, field_validator

from almanac.llm.base import LLMUse
from almanac.memory.schemas import SUBJECT_TYPE_CHARS, FactType, node_type
from almanac.types import SafeStr, Strict, WorkDay

Mode = Literal["daily", "weekly"]
Decision = Literal["added", "duplicate", "superseded", "rejected"]
Source = Literal["llm", "metadata", "numbers", "zep"]


def fact_source(source: Source) -> str:
    """The `metadata.source` of the facts decided from `source`."""
    return f"observer:{source}"


Trend = Literal["worsening", "improving", "stable", "unknown"]


class ReflectIn(Strict):
    """`POST /reflect`'s query parameters, sent as a JSON body instead."""

    mode: Mode | None = None
    date: WorkDay | None = None


class ReflectionOut(BaseModel):
    id: int
    mode: Mode
    period_start: date
    period_end: date
    timezone: str
    report: dict[str, Any]
    narrative: str | None
    llm: dict[str, Any]
    event_id: int | None
    created_at: datetime
    updated_at: datetime


class ClientEstimate(BaseModel):
    """The planner's estimate of a workflow for one client."""

    client_id: int
    runs: int  # this client's completed task runs of the workflow
    suggested_hours: float


class PatternOut(BaseModel):
    """How one workflow's runs compare with the library's estimate (the planner's baseline),
    and what the planner estimates now: the same figures a new plan gets."""

    workflow_id: int
    workflow: str
    # Engagements (the workflow run through once, for one plan); `client_estimates` and
    # `estimate_basis` count task runs, as a plan's notes do.
    runs: int = Field(description="Engagements measured: the workflow run through, per plan")
    mean_variance_pct: float | None
    trend: Trend
    recent_variance_pct: float | None
    earlier_variance_pct: float | None
    # What each run measured, on average: the estimate of the tasks it ran (an engagement
    # under way counts only those, not the whole workflow) and the hours they took.
    mean_estimated_hours: float | None = None
    mean_actual_hours: float | None
    # The whole workflow's estimate (the library's).
    current_estimate_hours: float | None
    suggested_estimate_hours: float | None
    client_estimates: list[ClientEstimate] = Field(default_factory=list)
    # Runs, effective runs, the latest run, detected changes, outliers damped.
    estimate_basis: dict[str, Any] = Field(default_factory=dict)


class FactDecisionOut(BaseModel):
    id: int
    event_id: int | None
    source: Source
    proposal: dict[str, Any]
    decision: Decision
    fact_id: int | None
    reason: str | None
    created_at: datetime


class ExtractionOut(BaseModel):
    event_id: int
    decisions: list[FactDecisionOut]
    already_extracted: bool = False
    llm: LLMUse


# -- what the LLM answers ------------------------------------------------------------------


class Narrative(BaseModel):
    """The LLM's reflection on top of the numbers.

    Bounded so that the reflection, remembered as one event (20,000 characters at most),
    always fits: an unbounded adjustment made `POST /reflect` a 422 naming `content`.
    """

    narrative: Annotated[str, Field(min_length=1, max_length=8000)]
    adjustments: Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=10)] = []

    @field_validator("narrative")
    @classmethod
    def _narrative_said(cls, value: str) -> str:
        # "   " stripped to nothing was stored as an empty narrative "by" the model.
        if not value.strip():
            raise ValueError("must contain non-whitespace text")
        return value

    @field_validator("adjustments")
    @classmethod
    def _no_blank_adjustment(cls, value: list[str]) -> list[str]:
        return [a for a in value if a.strip()]


class RawFacts(BaseModel):
    """The extractor's answer, loose on purpose: each proposal is validated on its own so
    one bad proposal is rejected with a reason instead of failing the whole answer."""

    facts: Annotated[list[dict[str, Any]], Field(max_length=50)]
    # `llm.formats.parse` leaves NULs to `FactProposal` (each proposal on its own): an
    # answer with one bad string lost every good fact to the metadata fallback.
    checks_own_text: ClassVar[bool] = True


class FactProposal(BaseModel):
    """One proposed fact, validated before it can touch the facts table."""

    model_config = ConfigDict(extra="ignore")

    # As a fact's (memory.schemas.SubjectType): it is also a graph node's type.
    subject_type: Annotated[
        SafeStr, Field(min_length=1, max_length=SUBJECT_TYPE_CHARS), AfterValidator(node_type)
    ]
    subject_id: Annotated[SafeStr, Field(min_length=1, max_length=255)]
    fact_type: FactType
    category: Annotated[SafeStr, Field(min_length=1, max_length=50)] | None = None
    content: Annotated[SafeStr, Field(min_length=1, max_length=2000)]
    # The prompt asks for a "confidence"; both spellings are accepted.
    salience: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.7, validation_alias=AliasChoices("salience", "confidence")
    )

    @field_validator("subject_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("content", "subject_type")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain non-whitespace text")
        return value.strip()
