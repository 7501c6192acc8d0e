"""Deleting memories locks their words' statistics in word order, as inserting does.

The insert trigger upserts `search_terms` rows in lexeme order; the delete trigger updated
them in whatever order its join produced. A memory deleted (one, a forget, retention) while
another sharing words was remembered could each hold a word the other waited for: Postgres
failed one of them (a deadlock). The delete trigger now locks the rows in lexeme order
first, then updates them.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = """
    UPDATE search_terms t SET df = t.df - d.n
    FROM (
        SELECT lexeme, count(*) AS n
        FROM old_rows, unnest(tsvector_to_array(old_rows.search_tsv)) AS lexeme
        GROUP BY lexeme
        ORDER BY lexeme
    ) d
    WHERE t.kind = TG_ARGV[0] AND t.lexeme = d.lexeme;
    PERFORM search_stats_add(TG_ARGV[0], -1, count(*), coalesce(sum(length(search_tsv)), 0))
    FROM old_rows;
    RETURN NULL;
"""

# Rows are locked as the sort hands them on (LockRows above Sort): in lexeme order.
LOCK_IN_ORDER = """
    PERFORM 1 FROM search_terms t
    WHERE t.kind = TG_ARGV[0] AND t.lexeme IN (
        SELECT lexeme FROM old_rows, unnest(tsvector_to_array(old_rows.search_tsv)) AS lexeme
    )
    ORDER BY t.lexeme
    FOR UPDATE;
"""


def _function(body: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION search_terms_on_delete() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$\nBEGIN{body}END;\n$$;"
    )


def upgrade() -> None:
    op.execute(_function(LOCK_IN_ORDER + COUNTS))


def downgrade() -> None:
    op.execute(_function(COUNTS))
