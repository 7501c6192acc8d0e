"""When a task was marked done.

A task marked done with no time recorded has no execution run, so nothing said when it
was finished and reflections counted it done only through a block planned in the period.
Done rows from before this take the end of their completed run, when they have one; the
others keep being counted where they were planned.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("idx_tasks_finished_at", "tasks", ["finished_at"], unique=False)
    op.execute(
        """
        UPDATE tasks SET finished_at = r.ended
        FROM (
            SELECT task_id, max(ended_at) AS ended FROM execution_runs
            WHERE status = 'completed' AND ended_at IS NOT NULL AND task_id IS NOT NULL
            GROUP BY task_id
        ) AS r
        WHERE r.task_id = tasks.id AND tasks.status IN ('done', 'completed')
        """
    )


def downgrade() -> None:
    op.drop_index("idx_tasks_finished_at", table_name="tasks")
    op.drop_column("tasks", "finished_at")
