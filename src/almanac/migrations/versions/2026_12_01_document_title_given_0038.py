"""Whether a document's title was given by its caller or taken from the file.

A changed file re-added without a title keeps a title its caller gave, and takes its new
heading when the title came from the old file. Rows from before this are "taken from the
file", the behaviour they were added under.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "documents",
        sa.Column("title_given", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("documents", "title_given")
