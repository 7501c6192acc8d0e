"""Memories linked to the entities they name (memory.entities), for recall's graph signal.

Revision ID: 0034
Revises: 0025
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_entities",
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["graph_nodes.node_id"],
            name=op.f("fk_memory_entities_node_id_graph_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_memory_entities_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("node_id", "event_id", name=op.f("pk_memory_entities")),
    )
    op.create_index("idx_memory_entities_event", "memory_entities", ["event_id"])


def downgrade() -> None:
    op.drop_index("idx_memory_entities_event", table_name="memory_entities")
    op.drop_table("memory_entities")
