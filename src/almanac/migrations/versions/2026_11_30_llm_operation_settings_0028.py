"""Per-operation model, temperature and token limit chosen at run time.

Revision ID: 0028
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_operation_settings",
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("operation", name=op.f("pk_llm_operation_settings")),
        sa.CheckConstraint(
            "temperature IS NULL OR (temperature >= 0 AND temperature <= 2)",
            name=op.f("ck_llm_operation_settings_temperature"),
        ),
        sa.CheckConstraint(
            "max_tokens IS NULL OR (max_tokens >= 1 AND max_tokens <= 32768)",
            name=op.f("ck_llm_operation_settings_max_tokens"),
        ),
    )


def downgrade() -> None:
    op.drop_table("llm_operation_settings")
