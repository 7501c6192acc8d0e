"""A client's live event ids from the index alone (exact filtered recall).

Revision ID: 0025
Revises: 0021
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_events_client_live",
        "events",
        ["client_id", "id"],
        unique=False,
        postgresql_include=["expires_at"],
    )
    op.drop_index("idx_events_client", table_name="events")


def downgrade() -> None:
    op.create_index("idx_events_client", "events", ["client_id"], unique=False)
    op.drop_index("idx_events_client_live", table_name="events")
