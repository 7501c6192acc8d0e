"""One fact supersession: drop the PL/pgSQL update_fact_temporal.

Superseding a fact is `memory.facts.FactService.supersede`, which also embeds the new
fact, invalidates recall caches and queues it for Zep; the SQL function did none of that,
so a fact written through it was invisible to semantic recall.

Revision ID: 0021
Revises: 0028
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The function as revision 0001 created it, for the downgrade.
UPDATE_FACT_TEMPORAL = """
CREATE OR REPLACE FUNCTION update_fact_temporal(
    p_old_fact_id BIGINT,
    p_new_content TEXT,
    p_valid_from TIMESTAMPTZ DEFAULT now(),
    p_salience FLOAT DEFAULT NULL
) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    old_fact facts%ROWTYPE;
    new_id BIGINT;
BEGIN
    SELECT * INTO old_fact FROM facts WHERE id = p_old_fact_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fact % does not exist', p_old_fact_id;
    END IF;
    IF old_fact.valid_to IS NOT NULL THEN
        RAISE EXCEPTION 'fact % is no longer current', p_old_fact_id;
    END IF;
    UPDATE facts SET valid_to = p_valid_from WHERE id = p_old_fact_id;
    INSERT INTO facts (subject_type, subject_id, fact_type, content, salience_score, category,
                       client_id, valid_from, metadata, supersedes_id)
    VALUES (old_fact.subject_type, old_fact.subject_id, old_fact.fact_type, p_new_content,
            coalesce(p_salience, old_fact.salience_score), old_fact.category,
            old_fact.client_id, p_valid_from, old_fact.metadata, old_fact.id)
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$$;
"""


def upgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS update_fact_temporal(BIGINT, TEXT, TIMESTAMPTZ, FLOAT)")


def downgrade() -> None:
    op.execute(UPDATE_FACT_TEMPORAL)
