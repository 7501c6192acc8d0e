"""A fact is a graph node until it has ended, not only while it has no end.

A fact is current while it is valid now, and one can be valid now with an end in the
future: "rate 1200" until next January, when "rate 1400" starts (or a correction put
between two facts). The trigger of 0016 dropped every fact with a `valid_to`, so such a
fact left the graph while its future successor was in it. Now a fact is a node while
`valid_to` is unset or still ahead, and dropped once it has passed. Time passing fires no
trigger: retention drops the nodes of facts that have ended since they were written
(`EntityLinkRepository.drop_ended_facts`).

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0016's body, but for the condition that drops the fact and the node's properties: with
# several versions of a slot in the graph (today's rate and next year's), a reader needs
# each one's validity to tell which applies when.
BODY = """
    IF {ended} THEN
        PERFORM graph_drop('fact:' || r.id);
        RETURN;
    END IF;
    PERFORM graph_node('fact:' || r.id, 'fact', jsonb_build_object(
        'fact_type', r.fact_type, 'category', r.category, 'content', left(r.content, 200)){dates});
    PERFORM graph_unlink_in('fact:' || r.id, ARRAY['has_fact']);
    PERFORM graph_edge(left(r.subject_type || ':' || r.subject_id, 255), 'fact:' || r.id,
        'has_fact');
"""


DATES = " || jsonb_build_object('valid_from', r.valid_from, 'valid_to', r.valid_to)"


def _sync(ended: str, dates: str) -> str:
    """`graph_sync_facts`, dropping the fact's node when `ended` holds of its row `r`."""
    body = BODY.format(ended=ended, dates=dates)
    return (
        "CREATE OR REPLACE FUNCTION graph_sync_facts(r facts) RETURNS void "
        f"LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nEND;\n$$;"
    )


def upgrade() -> None:
    # The wall clock, not the transaction's start: superseding "from now" closes the old
    # fact at the caller's now, taken after its transaction began. NULL (no end) is no end.
    op.execute(_sync("r.valid_to <= clock_timestamp()", DATES))
    # The facts with an end still ahead, which 0016 left out, join the graph, and every
    # node of a fact gets its dates.
    op.execute(
        "SELECT graph_sync_facts(f) FROM facts f "
        "WHERE f.valid_to IS NULL OR f.valid_to > clock_timestamp() ORDER BY f.id"
    )


def downgrade() -> None:
    # 0016's rule: a fact with any end, past or ahead, is no node.
    op.execute(_sync("r.valid_to IS NOT NULL", ""))
    op.execute("SELECT graph_drop('fact:' || f.id) FROM facts f WHERE f.valid_to IS NOT NULL")
    op.execute("SELECT graph_sync_facts(f) FROM facts f WHERE f.valid_to IS NULL ORDER BY f.id")
