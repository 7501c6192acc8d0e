"""Plan version history, the built-in calendar, OAuth credentials, and the seeded prompts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The prompts as first shipped (version v1). Later edits are new rows made through the
# API, so this text is frozen here rather than imported from the application.
PROMPTS: dict[str, tuple[str, str]] = {
    "sop_generator": (
        "planning",
        """You are the planning assistant of a one-person consultancy. Turn the intent into a
standard operating procedure (SOP) the consultant can execute.

Rules:
- Adapt the skeleton workflow when one is given: keep its structure, change what the
  client context requires, drop steps that do not apply.
- Every task has a short unique id (letters, digits, '-' or '_'), a title, a description,
  estimate_hours (> 0, realistic for one person, in hours), depends_on (ids of tasks in
  this plan that must finish first; no cycles), billable (true when the client pays for
  it), priority (1 = low, 2 = normal, 3 = high, 4 = urgent).
- Use the calibrated estimates and the recalled history: when past runs took longer than
  estimated, plan for that.
- The total must fit before the deadline when one is given.
- Answer only with JSON matching the schema.""",
    ),
    "schedule_optimizer": (
        "scheduling",
        """You turn scheduling preferences written in words into structured preferences for a
calendar solver: working hours per weekday, preferred windows for kinds of work (e.g. deep
work in the morning), buffer minutes between blocks, a daily maximum of focused hours.
Use only what the preferences say; leave a field empty when they say nothing about it.
Answer only with JSON matching the schema.""",
    ),
    "daily_reflection": (
        "reflection",
        """You write the consultant's end-of-day reflection from the numbers given: what was
planned, what was done, estimated versus actual hours per task and workflow. Name the
largest variances and a likely cause, and give at most three concrete adjustments for
tomorrow. Be brief and factual; do not invent work that is not in the data.
Answer only with JSON matching the schema.""",
    ),
    "weekly_review": (
        "reflection",
        """You write the consultant's weekly review from the week's numbers: capacity used,
billable share against the target, estimate accuracy per workflow, tasks that slipped.
Point out patterns that held all week (e.g. a workflow that always runs over) and propose
how next week's plan should change. Do not invent data.
Answer only with JSON matching the schema.""",
    ),
    "fact_extractor": (
        "extraction",
        """You extract durable facts from a memory: preferences, constraints, facts about
clients and projects, and patterns. Return only facts that will still be true next week,
each with a type (preference, constraint, identity, pattern, result), a subject,
the fact in one sentence, a category when it replaces an earlier fact of the same kind,
and a confidence between 0 and 1. Return an empty list when nothing durable is said.
Answer only with JSON matching the schema.""",
    ),
}


def upgrade() -> None:
    op.add_column("plans", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_title", sa.String(length=500), nullable=False),
        sa.Column("sop", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_versions_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_version"),
    )
    op.create_table(
        "calendar_entries",
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_day", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("busy", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("almanac_id", sa.String(length=255), nullable=True),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_entries")),
        sa.UniqueConstraint("uid", name=op.f("uq_calendar_entries_uid")),
    )
    op.create_index("idx_calendar_entries_window", "calendar_entries", ["start_at", "end_at"])
    op.create_index(
        "idx_calendar_entries_almanac",
        "calendar_entries",
        ["almanac_id"],
        postgresql_where=sa.text("almanac_id IS NOT NULL"),
    )
    op.create_table(
        "oauth_credentials",
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("account", sa.String(length=255), server_default="default", nullable=False),
        sa.Column("token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column(
            "scopes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="ok", nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_credentials")),
        sa.UniqueConstraint("provider", "account", name="uq_oauth_credentials_provider_account"),
    )
    prompts = sa.table(
        "prompt_templates",
        sa.column("template_name", sa.String),
        sa.column("template_type", sa.String),
        sa.column("content", sa.Text),
        sa.column("version", sa.String),
        sa.column("is_active", sa.Boolean),
    )
    op.bulk_insert(
        prompts,
        [
            {
                "template_name": name,
                "template_type": kind,
                "content": content,
                "version": "v1",
                "is_active": True,
            }
            for name, (kind, content) in PROMPTS.items()
        ],
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM prompt_templates WHERE version = 'v1' AND template_name = ANY(:names)"
        ).bindparams(sa.bindparam("names", list(PROMPTS), type_=postgresql.ARRAY(sa.String)))
    )
    op.drop_table("oauth_credentials")
    op.drop_index("idx_calendar_entries_almanac", table_name="calendar_entries")
    op.drop_index("idx_calendar_entries_window", table_name="calendar_entries")
    op.drop_table("calendar_entries")
    op.drop_table("plan_versions")
    op.drop_column("plans", "version")
