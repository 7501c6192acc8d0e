"""Revision 0044 on a database of its own: memories and facts about a client stored with
the subject written loosely ("Client" and the number 7, "07", " 12 ") are that client's
after it, so recall scopes them and forgetting the client takes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text

from almanac.db.migrate import current_revision, upgrade
from tests.databases import scratch_engine

EVENT = """
INSERT INTO events (event_type, event_source, content, metadata)
VALUES ('note', 'api', :content, CAST(:metadata AS jsonb))
"""
FACT = """
INSERT INTO facts (subject_type, subject_id, fact_type, category, content, valid_from)
VALUES (:type, :id, 'preference', :category, :content, :at)
"""


async def test_loose_client_subjects_become_the_clients(pg_url: str) -> None:
    async with scratch_engine(pg_url, "almanac_client_subject_migration") as engine:
        await upgrade(engine, "0043")
        events = {
            "number": {"subject_type": "Client", "subject_id": 7},
            "zero": {"subject_type": "client", "subject_id": "07"},
            "spaces": {"subject_type": " CLIENT ", "subject_id": " 12 "},
            "name": {"subject_type": "client", "subject_id": " Acme "},
            # Not a client's, or no id to read: kept as written.
            "person": {"subject_type": "person", "subject_id": "07"},
            "fraction": {"subject_type": "Client", "subject_id": 7.5},
            "none": {"note": "x"},
        }
        at = datetime(2026, 1, 1, tzinfo=UTC)
        async with engine.begin() as conn:
            for content, metadata in events.items():
                await conn.execute(
                    text(EVENT), {"content": content, "metadata": json.dumps(metadata)}
                )
            facts = [
                ("Client", "007", "hours", "older, one slot with 7's", at),
                ("client", "7", "hours", "newer", at.replace(month=2)),
                ("client", " 08", None, "no slot", at),
                ("person", "007", "hours", "someone else", at),
            ]
            for kind, ident, category, content, when in facts:
                await conn.execute(
                    text(FACT),
                    {
                        "type": kind,
                        "id": ident,
                        "category": category,
                        "content": content,
                        "at": when,
                    },
                )
        await upgrade(engine, "0044")
        assert await current_revision(engine) == "0044"
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT content, metadata FROM events"))
            stored = {content: metadata for content, metadata in rows.all()}
            facts_after = await conn.execute(
                text("SELECT content, subject_type, subject_id, valid_to FROM facts")
            )
            by_content = {r[0]: r[1:] for r in facts_after.all()}
        assert stored["number"] == {"subject_type": "client", "subject_id": "7"}
        assert stored["zero"] == {"subject_type": "client", "subject_id": "7"}
        assert stored["spaces"] == {"subject_type": "client", "subject_id": "12"}
        assert stored["name"] == {"subject_type": "client", "subject_id": "Acme"}
        for kept in ("person", "fraction", "none"):
            assert stored[kept] == events[kept], kept
        assert by_content["newer"] == ("client", "7", None)
        # The older of one slot is closed when the newer began, as a write would have.
        assert by_content["older, one slot with 7's"] == ("client", "7", at.replace(month=2))
        assert by_content["no slot"] == ("client", "8", None)
        assert by_content["someone else"] == ("person", "007", None)
