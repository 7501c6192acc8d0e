"""LLM calls say whether they reached the model and why an answer was rejected; jobs that
wait for the LLM keep their reason.

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "llm_calls",
        sa.Column("reached_model", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "llm_calls",
        sa.Column("tokens_estimated", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "llm_calls", sa.Column("rejection", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("llm_calls", sa.Column("output_mode", sa.String(length=20), nullable=True))
    # Earlier rows: a call that produced an answer (good or bad) reached the model.
    op.execute(
        "UPDATE llm_calls SET reached_model = true "
        "WHERE outcome IN ('ok', 'repaired', 'invalid') OR tokens_in + tokens_out > 0"
    )
    op.create_table(
        "job_reasons",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_reasons")),
    )


def downgrade() -> None:
    op.drop_table("job_reasons")
    op.drop_column("llm_calls", "output_mode")
    op.drop_column("llm_calls", "rejection")
    op.drop_column("llm_calls", "tokens_estimated")
    op.drop_column("llm_calls", "reached_model")
