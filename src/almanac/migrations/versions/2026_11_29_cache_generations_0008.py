"""Recall-cache generations in Postgres, so processes without Valkey invalidate each other.

Revision ID: 0008
Revises: 0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_generations",
        sa.Column("namespace", sa.String(length=300), nullable=False),
        sa.Column("gen", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_cache_generations")),
    )


def downgrade() -> None:
    op.drop_table("cache_generations")
