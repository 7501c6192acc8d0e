"""Entity nodes by name prefix, for recall's short forms ("Mel" for "Melanie").

The unique index on `graph_nodes.node_id` follows the database's collation, where a
prefix is not a range; this one compares bytes (`varchar_pattern_ops`), so
`memory.entity_links` finds the names a short form begins with by an index range scan
(operators `~>~` and `~<~`).

Revision ID: 0037
Revises: 0034
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_graph_nodes_entity_prefix",
        "graph_nodes",
        ["node_id"],
        postgresql_ops={"node_id": "varchar_pattern_ops"},
        postgresql_where="node_type = 'entity'",
    )


def downgrade() -> None:
    op.drop_index("idx_graph_nodes_entity_prefix", table_name="graph_nodes")
