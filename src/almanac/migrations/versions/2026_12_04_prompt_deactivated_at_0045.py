"""Prompt versions remember when they stopped being active.

Rolling back went to the version numbered below the active one, which may never have been
active (saved, tried in a preview, never chosen). `deactivated_at` is set when a version
gives way to another, so a rollback goes to the one that was active before. Versions
replaced before this migration have none: their order of activation was not kept.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "prompt_templates", sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("prompt_templates", "deactivated_at")
