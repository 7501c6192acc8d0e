"""Plans, the Pattern Ontology and execution telemetry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import (
    Base,
    CreatedMixin,
    IdMixin,
    MetadataMixin,
    TimestampsMixin,
)


class Plan(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """An SOP produced from an intent; moves draft → approved → scheduled → active → done."""

    __tablename__ = "plans"

    plan_title: Mapped[str] = mapped_column(String(500), nullable=False)
    intent: Mapped[str] = mapped_column(Text, nullable=False)
    sop: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    client_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="draft")
    zep_session_id: Mapped[str | None] = mapped_column(String(255))
    engagement_id: Mapped[int | None] = mapped_column(Integer)
    workflow_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("workflows.id"))
    process_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("process_templates.id")
    )
    # Bumped by every edit; earlier versions are kept in plan_versions.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # A retried POST /plan finds the plan its key made: keys are the caller's (the API key's
    # id; 0 in process), and the request's SHA-256 tells a retry from another plan.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    idempotency_caller: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("idx_plans_client", "client_id"),
        Index("idx_plans_status", "status"),
        Index("idx_plans_engagement", "engagement_id"),
        Index("idx_plans_workflow", "workflow_id"),
        # One plan per caller and key, also for two requests racing with one key.
        Index(
            "uq_plans_idempotency",
            "idempotency_caller",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )


class PlanVersion(IdMixin, CreatedMixin, Base):
    """A plan as it was before an edit: the version history of `PUT /plans/{id}`."""

    __tablename__ = "plan_versions"

    plan_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("plans.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_title: Mapped[str] = mapped_column(String(500), nullable=False)
    sop: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),)


class SchedulerRun(IdMixin, CreatedMixin, MetadataMixin, Base):
    """One placement of a plan's tasks into the calendar."""

    __tablename__ = "scheduler_runs"

    plan_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("plans.id", ondelete="CASCADE")
    )
    schedule_blocks: Mapped[list[Any]] = mapped_column(nullable=False)
    client_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="scheduled")

    __table_args__ = (
        Index("idx_scheduler_runs_plan", "plan_id"),
        Index("idx_scheduler_runs_client", "client_id"),
    )


class PromptTemplate(IdMixin, CreatedMixin, Base):
    """A versioned system prompt; one version per name is active."""

    __tablename__ = "prompt_templates"

    template_name: Mapped[str] = mapped_column(String(100), nullable=False)
    template_type: Mapped[str] = mapped_column(String(50), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[str] = mapped_column(String(20), nullable=False, server_default="v1")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # When it last gave way to another version (a rollback's target); None: never did.
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("template_name", "version", name="uq_prompt_templates_name_version"),
        Index(
            "uq_prompt_templates_active",
            "template_name",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )


class ServiceBlueprint(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """An end-to-end service offering: an ordered sequence of workflows."""

    __tablename__ = "service_blueprints"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    offer_id: Mapped[int | None] = mapped_column(Integer)
    workflow_sequence: Mapped[list[Any] | None] = mapped_column()
    estimated_duration_hrs: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("idx_service_blueprints_offer", "offer_id"),)


class Workflow(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """A reusable SOP for a capability; the planner's skeleton."""

    __tablename__ = "workflows"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    capability: Mapped[str | None] = mapped_column(String(100))
    steps: Mapped[list[Any]] = mapped_column(nullable=False)
    version: Mapped[str] = mapped_column(String(20), nullable=False, server_default="1.0")
    parent_workflow_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("workflows.id"))

    __table_args__ = (
        Index("idx_workflows_capability", "capability"),
        Index("idx_workflows_parent", "parent_workflow_id"),
    )


class ProcessTemplate(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """A workflow instantiated for one engagement: its checklist becomes tasks."""

    __tablename__ = "process_templates"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    workflow_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("workflows.id"))
    engagement_id: Mapped[int | None] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(Integer)
    checklist: Mapped[list[Any]] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(50), nullable=False, server_default="draft")

    __table_args__ = (
        Index("idx_process_templates_workflow", "workflow_id"),
        Index("idx_process_templates_engagement", "engagement_id"),
        Index("idx_process_templates_status", "status"),
    )


class Task(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """An executable work item from a process template's checklist."""

    __tablename__ = "tasks"

    process_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("process_templates.id", ondelete="CASCADE")
    )
    plan_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("plans.id", ondelete="CASCADE")
    )
    plan_task_key: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    estimate_hours: Mapped[float | None] = mapped_column(Float)
    billable: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default="2")
    depends_on: Mapped[list[Any]] = mapped_column(
        nullable=False,
        server_default=text("'[]'::jsonb"),
    )
    earliest_start: Mapped[datetime | None] = mapped_column()
    deadline: Mapped[datetime | None] = mapped_column()
    scheduled_start: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(50), nullable=False, server_default="todo")
    # When it was marked done (None while open, cancelled, or done before this was kept):
    # reflections count it done in that period, with or without time recorded.
    finished_at: Mapped[datetime | None] = mapped_column()
    client_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("idx_tasks_process_template", "process_template_id"),
        Index("idx_tasks_plan", "plan_id"),
        Index("idx_tasks_status", "status"),
        Index("idx_tasks_scheduled_start", "scheduled_start"),
        Index("idx_tasks_finished_at", "finished_at"),
    )


class Sprint(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """A week's capacity: hours available and the billable share to aim for."""

    __tablename__ = "sprints"

    week_start: Mapped[date] = mapped_column(Date, nullable=False, unique=True)
    capacity_hrs: Mapped[float] = mapped_column(Float, nullable=False)
    billable_target_pct: Mapped[float] = mapped_column(Float, nullable=False, server_default="60")
    runway_weeks: Mapped[float | None] = mapped_column(Float)
    client_id: Mapped[int | None] = mapped_column(Integer)


_VARIANCE = (
    "CASE WHEN estimated_hours > 0 "
    "THEN ((actual_hours - estimated_hours) / estimated_hours) * 100 ELSE NULL END"
)


class ExecutionRun(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """One actual work session against a process template; variance is computed by Postgres."""

    __tablename__ = "execution_runs"

    process_template_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("process_templates.id")
    )
    task_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tasks.id", ondelete="SET NULL")
    )
    run_identifier: Mapped[str | None] = mapped_column(String(255), unique=True)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    actual_hours: Mapped[float | None] = mapped_column(Float)
    estimated_hours: Mapped[float | None] = mapped_column(Float)
    variance_pct: Mapped[float | None] = mapped_column(Float, Computed(_VARIANCE, persisted=True))
    status: Mapped[str] = mapped_column(String(50), nullable=False, server_default="in_progress")
    telemetry: Mapped[dict[str, Any] | None] = mapped_column()

    __table_args__ = (
        Index("idx_execution_runs_template", "process_template_id"),
        Index("idx_execution_runs_status", "status"),
        Index(
            "idx_execution_runs_variance",
            "variance_pct",
            postgresql_where=text("status = 'completed'"),
        ),
    )
