"""Idempotency keys for POST /api/v1/planner/plan.

A retried plan request made a second draft. A plan now keeps the key it was asked with,
whose it is (the API key's id) and a hash of the request; a unique index makes two
requests racing with one key store one plan.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.add_column("plans", sa.Column("idempotency_caller", sa.BigInteger(), nullable=True))
    op.add_column("plans", sa.Column("idempotency_hash", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_plans_idempotency",
        "plans",
        ["idempotency_caller", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_plans_idempotency", table_name="plans")
    op.drop_column("plans", "idempotency_hash")
    op.drop_column("plans", "idempotency_caller")
    op.drop_column("plans", "idempotency_key")
