"""Client subjects stored before they were made canonical are made so.

A memory about a client written "Client" (or " CLIENT ") with the id 7 as a number, or
"client" with "07", was stored as written: recall took it for the user's own (shown to
every client) or for client "07" (shown to none), and forgetting client 7 left it. New
writes are canonical since (`memory.schemas.canonical_subject`): type "client", the id
as text without spaces or leading zeros. This does the same to the rows already stored,
memories (their metadata) and facts (their columns).

Two current facts of one slot once their subjects read alike (client "07"'s hours and
client 7's) cannot both stay current: the older is closed when the newer began, as a
write would have superseded it.

Downgrading keeps the rows as they are: the spelling they had is not kept, and the
canonical one is what the older code reads too.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _canonical(ident: str) -> str:
    """As `canonical_subject` reads a client's id: trimmed, and digits as their number."""
    trimmed = f"regexp_replace({ident}, '^\\s+|\\s+$', '', 'g')"
    return (
        f"CASE WHEN {trimmed} ~ '^[0-9]+$' "
        f"THEN COALESCE(NULLIF(ltrim({trimmed}, '0'), ''), '0') ELSE {trimmed} END"
    )


IS_CLIENT = "lower(regexp_replace({t}, '^\\s+|\\s+$', '', 'g')) = 'client'"

# A memory's id is taken as text, or as a whole JSON number (what `RememberIn` converts).
EVENTS = f"""
UPDATE events SET metadata = metadata || jsonb_build_object(
    'subject_type', 'client', 'subject_id', {_canonical("metadata->>'subject_id'")})
WHERE {IS_CLIENT.format(t="metadata->>'subject_type'")}
  AND jsonb_typeof(metadata->'subject_type') = 'string'
  AND (jsonb_typeof(metadata->'subject_id') = 'string'
       OR (jsonb_typeof(metadata->'subject_id') = 'number'
           AND metadata->>'subject_id' ~ '^-?[0-9]+$'))
  AND (metadata->>'subject_type' <> 'client'
       OR jsonb_typeof(metadata->'subject_id') <> 'string'
       OR metadata->>'subject_id' <> {_canonical("metadata->>'subject_id'")})
"""

# Whose a fact is once its subject is canonical (as models.memory.FACT_OWNER_SQL).
_OWNER = f"COALESCE(client_id::text, {_canonical('subject_id')})"
CLOSE_OLDER = f"""
WITH slot AS (
    SELECT id, valid_from,
           first_value(valid_from) OVER w AS newest_from,
           first_value(id) OVER w AS newest_id
    FROM facts
    WHERE valid_to IS NULL AND category IS NOT NULL
      AND {IS_CLIENT.format(t="subject_type")}
    WINDOW w AS (
        PARTITION BY {_canonical("subject_id")}, fact_type, category, {_OWNER}
        ORDER BY valid_from DESC, id DESC
    )
)
UPDATE facts f SET valid_to = s.newest_from
FROM slot s
WHERE f.id = s.id AND s.id <> s.newest_id
"""
FACTS = f"""
UPDATE facts SET subject_type = 'client', subject_id = {_canonical("subject_id")}
WHERE {IS_CLIENT.format(t="subject_type")}
  AND (subject_type <> 'client' OR subject_id <> {_canonical("subject_id")})
"""


def upgrade() -> None:
    op.execute(EVENTS)
    # Closed first: renamed first, two current facts of one slot break its unique index.
    op.execute(CLOSE_OLDER)
    op.execute(FACTS)


def downgrade() -> None:
    pass
