"""BM25 statistics: document frequency per lexeme and document lengths, kept by triggers.

Postgres's own ts_rank has no inverse document frequency, so a word found in half the
memories weighs as much as a rare name. These tables give recall real BM25 weights.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = {"events": "event", "facts": "fact"}

# Statement-level triggers see all changed rows at once (transition tables), so a batch of
# 1,000 memories costs one aggregated upsert. Lexemes are upserted in sorted order so that
# concurrent writers lock rows in the same order and cannot deadlock.
FUNCTIONS = [
    """
CREATE FUNCTION search_stats_add(p_kind text, p_sign integer, p_rows bigint, p_len bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO search_stats (kind, docs, total_len)
    VALUES (p_kind, p_sign * p_rows, p_sign * p_len)
    ON CONFLICT (kind) DO UPDATE
    SET docs = search_stats.docs + EXCLUDED.docs,
        total_len = search_stats.total_len + EXCLUDED.total_len;
$$;
""",
    """
CREATE FUNCTION search_terms_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_terms (kind, lexeme, df)
    SELECT TG_ARGV[0], lexeme, count(*)
    FROM new_rows, unnest(tsvector_to_array(new_rows.search_tsv)) AS lexeme
    GROUP BY lexeme
    ORDER BY lexeme
    ON CONFLICT (kind, lexeme) DO UPDATE SET df = search_terms.df + EXCLUDED.df;
    PERFORM search_stats_add(TG_ARGV[0], 1, count(*), coalesce(sum(length(search_tsv)), 0))
    FROM new_rows;
    RETURN NULL;
END;
$$;
""",
    """
CREATE FUNCTION search_terms_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
END;
$$;
""",
]


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("df", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "lexeme", name=op.f("pk_search_terms")),
    )
    op.create_table(
        "search_stats",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("docs", sa.BigInteger(), nullable=False),
        sa.Column("total_len", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_search_stats")),
    )
    for statement in FUNCTIONS:
        op.execute(statement)
    for table, kind in KINDS.items():
        op.execute(
            f"CREATE TRIGGER {table}_search_terms_ins AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION search_terms_on_insert('{kind}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_search_terms_del AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION search_terms_on_delete('{kind}')"
        )
        # Content is never edited in place today; if it is, keep the statistics right.
        op.execute(
            f"CREATE TRIGGER {table}_search_terms_upd_old AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION search_terms_on_delete('{kind}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_search_terms_upd_new AFTER UPDATE ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION search_terms_on_insert('{kind}')"
        )
        op.execute(
            f"""
            INSERT INTO search_terms (kind, lexeme, df)
            SELECT '{kind}', lexeme, count(*)
            FROM {table}, unnest(tsvector_to_array(search_tsv)) AS lexeme
            GROUP BY lexeme
            """
        )
        op.execute(
            f"INSERT INTO search_stats (kind, docs, total_len) "
            f"SELECT '{kind}', count(*), coalesce(sum(length(search_tsv)), 0) FROM {table}"
        )


def downgrade() -> None:
    for table in KINDS:
        for suffix in ("ins", "del", "upd_old", "upd_new"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search_terms_{suffix} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS search_terms_on_insert()")
    op.execute("DROP FUNCTION IF EXISTS search_terms_on_delete()")
    op.execute("DROP FUNCTION IF EXISTS search_stats_add(text, integer, bigint, bigint)")
    op.drop_table("search_stats")
    op.drop_table("search_terms")
