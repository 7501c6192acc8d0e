"""Initial schema: memory (events, facts), planning, Pattern Ontology, graph.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:03:23.989828
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UPDATE_FACT_TEMPORAL = """
CREATE OR REPLACE FUNCTION update_fact_temporal(
    p_old_fact_id BIGINT,
    p_new_content TEXT,
    p_valid_from TIMESTAMPTZ DEFAULT now(),
    p_salience FLOAT DEFAULT NULL
) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    old_fact facts%ROWTYPE;
    new_id BIGINT;
BEGIN
    SELECT * INTO old_fact FROM facts WHERE id = p_old_fact_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fact % does not exist', p_old_fact_id;
    END IF;
    IF old_fact.valid_to IS NOT NULL THEN
        RAISE EXCEPTION 'fact % is no longer current', p_old_fact_id;
    END IF;
    UPDATE facts SET valid_to = p_valid_from WHERE id = p_old_fact_id;
    INSERT INTO facts (subject_type, subject_id, fact_type, content, salience_score, category,
                       client_id, valid_from, metadata, supersedes_id)
    VALUES (old_fact.subject_type, old_fact.subject_id, old_fact.fact_type, p_new_content,
            coalesce(p_salience, old_fact.salience_score), old_fact.category,
            old_fact.client_id, p_valid_from, old_fact.metadata, old_fact.id)
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$$;
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "events",
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("event_source", sa.String(length=50), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("zep_session_id", sa.String(length=255), nullable=True),
        sa.Column("memory_scope", sa.String(length=50), server_default="session", nullable=False),
        sa.Column("salience_score", sa.Float(), server_default="0.5", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_to_fact_id", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column(
            "search_tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, coalesce(content, ''))", persisted=True),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "memory_scope IN ('run', 'session', 'user', 'project', 'global')",
            name=op.f("ck_events_memory_scope"),
        ),
        sa.CheckConstraint(
            "salience_score >= 0 AND salience_score <= 1", name=op.f("ck_events_salience_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_events_idempotency_key")),
    )
    op.create_index("idx_events_client", "events", ["client_id"], unique=False)
    op.create_index(
        "idx_events_created", "events", [sa.literal_column("created_at DESC")], unique=False
    )
    op.create_index(
        "idx_events_expires",
        "events",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.create_index("idx_events_memory_scope", "events", ["memory_scope"], unique=False)
    op.create_index(
        "idx_events_occurred", "events", [sa.literal_column("occurred_at DESC")], unique=False
    )
    op.create_index(
        "idx_events_salience", "events", [sa.literal_column("salience_score DESC")], unique=False
    )
    op.create_index(
        "idx_events_search_tsv", "events", ["search_tsv"], unique=False, postgresql_using="gin"
    )
    op.create_index("idx_events_session", "events", ["session_id"], unique=False)
    op.create_index("idx_events_source", "events", ["event_source"], unique=False)
    op.create_index(
        "idx_events_subject",
        "events",
        [
            sa.literal_column("(metadata->>'subject_type')"),
            sa.literal_column("(metadata->>'subject_id')"),
        ],
        unique=False,
    )
    op.create_index("idx_events_type", "events", ["event_type"], unique=False)
    op.create_index("idx_events_zep_session", "events", ["zep_session_id"], unique=False)
    op.create_table(
        "graph_nodes",
        sa.Column("node_type", sa.String(length=50), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_nodes")),
        sa.UniqueConstraint("node_id", name=op.f("uq_graph_nodes_node_id")),
    )
    op.create_index("idx_graph_nodes_type", "graph_nodes", ["node_type"], unique=False)
    op.create_table(
        "prompt_templates",
        sa.Column("template_name", sa.String(length=100), nullable=False),
        sa.Column("template_type", sa.String(length=50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=20), server_default="v1", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_templates")),
        sa.UniqueConstraint("template_name", "version", name="uq_prompt_templates_name_version"),
    )
    op.create_index(
        "uq_prompt_templates_active",
        "prompt_templates",
        ["template_name"],
        unique=True,
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "service_blueprints",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("workflow_sequence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("estimated_duration_hrs", sa.Float(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_blueprints")),
    )
    op.create_index(
        "idx_service_blueprints_offer", "service_blueprints", ["offer_id"], unique=False
    )
    op.create_table(
        "sprints",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("capacity_hrs", sa.Float(), nullable=False),
        sa.Column("billable_target_pct", sa.Float(), server_default="60", nullable=False),
        sa.Column("runway_weeks", sa.Float(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sprints")),
        sa.UniqueConstraint("week_start", name=op.f("uq_sprints_week_start")),
    )
    op.create_table(
        "workflows",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("capability", sa.String(length=100), nullable=True),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.String(length=20), server_default="1.0", nullable=False),
        sa.Column("parent_workflow_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["parent_workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflows_parent_workflow_id_workflows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    op.create_index("idx_workflows_capability", "workflows", ["capability"], unique=False)
    op.create_index("idx_workflows_parent", "workflows", ["parent_workflow_id"], unique=False)
    op.create_table(
        "facts",
        sa.Column("subject_type", sa.String(length=100), nullable=False),
        sa.Column("subject_id", sa.String(length=255), nullable=False),
        sa.Column("fact_type", sa.String(length=50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("salience_score", sa.Float(), server_default="0.5", nullable=False),
        sa.Column("category", sa.String(length=50), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("zep_fact_id", sa.String(length=255), nullable=True),
        sa.Column("supersedes_id", sa.BigInteger(), nullable=True),
        sa.Column("source_event_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "search_tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, coalesce(content, ''))", persisted=True),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "salience_score >= 0 AND salience_score <= 1", name=op.f("ck_facts_salience_range")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_facts_valid_interval")
        ),
        sa.ForeignKeyConstraint(
            ["source_event_id"],
            ["events.id"],
            name=op.f("fk_facts_source_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["facts.id"],
            name=op.f("fk_facts_supersedes_id_facts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facts")),
    )
    op.create_index(
        "idx_facts_salience",
        "facts",
        [sa.literal_column("salience_score DESC")],
        unique=False,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index(
        "idx_facts_search_tsv", "facts", ["search_tsv"], unique=False, postgresql_using="gin"
    )
    op.create_index("idx_facts_subject", "facts", ["subject_type", "subject_id"], unique=False)
    op.create_index("idx_facts_type", "facts", ["fact_type"], unique=False)
    op.create_index("idx_facts_valid", "facts", ["valid_from", "valid_to"], unique=False)
    op.create_index(
        "uq_facts_current_slot",
        "facts",
        ["subject_type", "subject_id", "fact_type", "category"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL AND category IS NOT NULL"),
    )
    op.create_table(
        "graph_edges",
        sa.Column("from_node_id", sa.String(length=255), nullable=False),
        sa.Column("to_node_id", sa.String(length=255), nullable=False),
        sa.Column("edge_type", sa.String(length=50), nullable=False),
        sa.Column(
            "properties",
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
        sa.ForeignKeyConstraint(
            ["from_node_id"],
            ["graph_nodes.node_id"],
            name=op.f("fk_graph_edges_from_node_id_graph_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_node_id"],
            ["graph_nodes.node_id"],
            name=op.f("fk_graph_edges_to_node_id_graph_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_edges")),
        sa.UniqueConstraint(
            "from_node_id", "to_node_id", "edge_type", name="uq_graph_edges_triple"
        ),
    )
    op.create_index("idx_graph_edges_from", "graph_edges", ["from_node_id"], unique=False)
    op.create_index("idx_graph_edges_to", "graph_edges", ["to_node_id"], unique=False)
    op.create_table(
        "process_templates",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("workflow_id", sa.BigInteger(), nullable=True),
        sa.Column("engagement_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("checklist", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=50), server_default="draft", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_process_templates_workflow_id_workflows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_templates")),
    )
    op.create_index(
        "idx_process_templates_engagement", "process_templates", ["engagement_id"], unique=False
    )
    op.create_index("idx_process_templates_status", "process_templates", ["status"], unique=False)
    op.create_index(
        "idx_process_templates_workflow", "process_templates", ["workflow_id"], unique=False
    )
    op.create_table(
        "plans",
        sa.Column("plan_title", sa.String(length=500), nullable=False),
        sa.Column("intent", sa.Text(), nullable=False),
        sa.Column("sop", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("zep_session_id", sa.String(length=255), nullable=True),
        sa.Column("engagement_id", sa.Integer(), nullable=True),
        sa.Column("workflow_id", sa.BigInteger(), nullable=True),
        sa.Column("process_template_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["process_template_id"],
            ["process_templates.id"],
            name=op.f("fk_plans_process_template_id_process_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_plans_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index("idx_plans_client", "plans", ["client_id"], unique=False)
    op.create_index("idx_plans_engagement", "plans", ["engagement_id"], unique=False)
    op.create_index("idx_plans_status", "plans", ["status"], unique=False)
    op.create_index("idx_plans_workflow", "plans", ["workflow_id"], unique=False)
    op.create_table(
        "scheduler_runs",
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("schedule_blocks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="scheduled", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_scheduler_runs_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_runs")),
    )
    op.create_index("idx_scheduler_runs_client", "scheduler_runs", ["client_id"], unique=False)
    op.create_index("idx_scheduler_runs_plan", "scheduler_runs", ["plan_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("process_template_id", sa.BigInteger(), nullable=True),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("plan_task_key", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("estimate_hours", sa.Float(), nullable=True),
        sa.Column("billable", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="2", nullable=False),
        sa.Column(
            "depends_on",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("earliest_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=50), server_default="todo", nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_tasks_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["process_template_id"],
            ["process_templates.id"],
            name=op.f("fk_tasks_process_template_id_process_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("idx_tasks_plan", "tasks", ["plan_id"], unique=False)
    op.create_index("idx_tasks_process_template", "tasks", ["process_template_id"], unique=False)
    op.create_index("idx_tasks_scheduled_start", "tasks", ["scheduled_start"], unique=False)
    op.create_index("idx_tasks_status", "tasks", ["status"], unique=False)
    op.create_table(
        "execution_runs",
        sa.Column("process_template_id", sa.BigInteger(), nullable=True),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("run_identifier", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_hours", sa.Float(), nullable=True),
        sa.Column("estimated_hours", sa.Float(), nullable=True),
        sa.Column(
            "variance_pct",
            sa.Float(),
            sa.Computed(
                "CASE WHEN estimated_hours > 0 THEN ((actual_hours - estimated_hours) / estimated_hours) * 100 ELSE NULL END",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=50), server_default="in_progress", nullable=False),
        sa.Column("telemetry", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["process_template_id"],
            ["process_templates.id"],
            name=op.f("fk_execution_runs_process_template_id_process_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_execution_runs_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_runs")),
        sa.UniqueConstraint("run_identifier", name=op.f("uq_execution_runs_run_identifier")),
    )
    op.create_index("idx_execution_runs_status", "execution_runs", ["status"], unique=False)
    op.create_index(
        "idx_execution_runs_template", "execution_runs", ["process_template_id"], unique=False
    )
    op.create_index(
        "idx_execution_runs_variance",
        "execution_runs",
        ["variance_pct"],
        unique=False,
        postgresql_where=sa.text("status = 'completed'"),
    )

    for owner, parent in (("event", "events"), ("fact", "facts")):
        op.create_table(
            f"{owner}_embeddings",
            sa.Column(f"{owner}_id", sa.BigInteger(), nullable=False),
            sa.Column("model", sa.String(length=200), nullable=False),
            sa.Column("embedding", Vector(), nullable=False),
            sa.ForeignKeyConstraint(
                [f"{owner}_id"],
                [f"{parent}.id"],
                name=op.f(f"fk_{owner}_embeddings_{owner}_id_{parent}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(f"{owner}_id", name=op.f(f"pk_{owner}_embeddings")),
        )
    op.create_foreign_key(
        op.f("fk_events_promoted_to_fact_id_facts"),
        "events",
        "facts",
        ["promoted_to_fact_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # The design's update_fact_temporal: close the current fact and open its successor
    # atomically, for SQL users (ToolJet, psql); the API does the same in its repository.
    op.execute(UPDATE_FACT_TEMPORAL)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS update_fact_temporal")
    op.drop_table("fact_embeddings")
    op.drop_table("event_embeddings")
    op.drop_constraint(op.f("fk_events_promoted_to_fact_id_facts"), "events", type_="foreignkey")
    op.drop_index(
        "idx_execution_runs_variance",
        table_name="execution_runs",
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.drop_index("idx_execution_runs_template", table_name="execution_runs")
    op.drop_index("idx_execution_runs_status", table_name="execution_runs")
    op.drop_table("execution_runs")
    op.drop_index("idx_tasks_status", table_name="tasks")
    op.drop_index("idx_tasks_scheduled_start", table_name="tasks")
    op.drop_index("idx_tasks_process_template", table_name="tasks")
    op.drop_index("idx_tasks_plan", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("idx_scheduler_runs_plan", table_name="scheduler_runs")
    op.drop_index("idx_scheduler_runs_client", table_name="scheduler_runs")
    op.drop_table("scheduler_runs")
    op.drop_index("idx_plans_workflow", table_name="plans")
    op.drop_index("idx_plans_status", table_name="plans")
    op.drop_index("idx_plans_engagement", table_name="plans")
    op.drop_index("idx_plans_client", table_name="plans")
    op.drop_table("plans")
    op.drop_index("idx_process_templates_workflow", table_name="process_templates")
    op.drop_index("idx_process_templates_status", table_name="process_templates")
    op.drop_index("idx_process_templates_engagement", table_name="process_templates")
    op.drop_table("process_templates")
    op.drop_index("idx_graph_edges_to", table_name="graph_edges")
    op.drop_index("idx_graph_edges_from", table_name="graph_edges")
    op.drop_table("graph_edges")
    op.drop_index(
        "uq_facts_current_slot",
        table_name="facts",
        postgresql_where=sa.text("valid_to IS NULL AND category IS NOT NULL"),
    )
    op.drop_index("idx_facts_valid", table_name="facts")
    op.drop_index("idx_facts_type", table_name="facts")
    op.drop_index("idx_facts_subject", table_name="facts")
    op.drop_index("idx_facts_search_tsv", table_name="facts", postgresql_using="gin")
    op.drop_index(
        "idx_facts_salience", table_name="facts", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_table("facts")
    op.drop_index("idx_workflows_parent", table_name="workflows")
    op.drop_index("idx_workflows_capability", table_name="workflows")
    op.drop_table("workflows")
    op.drop_table("sprints")
    op.drop_index("idx_service_blueprints_offer", table_name="service_blueprints")
    op.drop_table("service_blueprints")
    op.drop_index(
        "uq_prompt_templates_active",
        table_name="prompt_templates",
        postgresql_where=sa.text("is_active"),
    )
    op.drop_table("prompt_templates")
    op.drop_index("idx_graph_nodes_type", table_name="graph_nodes")
    op.drop_table("graph_nodes")
    op.drop_index("idx_events_zep_session", table_name="events")
    op.drop_index("idx_events_type", table_name="events")
    op.drop_index("idx_events_subject", table_name="events")
    op.drop_index("idx_events_source", table_name="events")
    op.drop_index("idx_events_session", table_name="events")
    op.drop_index("idx_events_search_tsv", table_name="events", postgresql_using="gin")
    op.drop_index("idx_events_salience", table_name="events")
    op.drop_index("idx_events_occurred", table_name="events")
    op.drop_index("idx_events_memory_scope", table_name="events")
    op.drop_index(
        "idx_events_expires",
        table_name="events",
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.drop_index("idx_events_created", table_name="events")
    op.drop_index("idx_events_client", table_name="events")
    op.drop_table("events")
