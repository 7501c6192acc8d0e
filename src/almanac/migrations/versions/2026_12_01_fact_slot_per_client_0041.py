"""A fact's slot includes whose it is.

A client's fact with the subject, type and category of another client's (or of the
user's own) superseded it: client B's "working hours" closed client A's. The slot is now
also whose the fact is: its client's id; without one, the client it is about (subject
`client:7`, so a client's fact still supersedes one about it stated without a client);
else '' (the user's own). The unique index on current facts says so.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("valid_to IS NULL AND category IS NOT NULL")
# As models.memory.FACT_OWNER_SQL at this revision (a migration does not import models).
OWNER = "COALESCE(client_id::text, CASE WHEN subject_type = 'client' THEN subject_id ELSE '' END)"


def upgrade() -> None:
    op.drop_index("uq_facts_current_slot", table_name="facts", postgresql_where=WHERE)
    op.create_index(
        "uq_facts_current_slot",
        "facts",
        ["subject_type", "subject_id", "fact_type", "category", sa.text(OWNER)],
        unique=True,
        postgresql_where=WHERE,
    )


def downgrade() -> None:
    # Two clients' current facts in one slot cannot both stay under the narrower index:
    # the older of each pair is closed when the newer began, as a write would have done.
    op.execute(
        """
        UPDATE facts f SET valid_to = n.valid_from
        FROM facts n
        WHERE f.valid_to IS NULL AND n.valid_to IS NULL AND f.category IS NOT NULL
          AND n.category = f.category AND n.subject_type = f.subject_type
          AND n.subject_id = f.subject_id AND n.fact_type = f.fact_type
          AND (n.valid_from, n.id) > (f.valid_from, f.id)
          AND NOT EXISTS (
              SELECT 1 FROM facts m
              WHERE m.valid_to IS NULL AND m.category = f.category
                AND m.subject_type = f.subject_type AND m.subject_id = f.subject_id
                AND m.fact_type = f.fact_type AND (m.valid_from, m.id) > (n.valid_from, n.id)
          )
        """
    )
    op.drop_index("uq_facts_current_slot", table_name="facts", postgresql_where=WHERE)
    op.create_index(
        "uq_facts_current_slot",
        "facts",
        ["subject_type", "subject_id", "fact_type", "category"],
        unique=True,
        postgresql_where=WHERE,
    )
