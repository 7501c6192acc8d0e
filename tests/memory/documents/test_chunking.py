"""Chunking: a document of headings alone still has chunks (its headings)."""

from __future__ import annotations

from almanac.memory.documents.chunking import chunk_sections
from almanac.memory.documents.extract import Section


def test_a_document_of_headings_alone_is_chunked_by_its_headings() -> None:
    """`# Call with Acme` alone was refused with "no text could be extracted"."""
    sections = [Section("Call with Acme", None, ""), Section("Follow-ups", None, "  ")]
    chunks = chunk_sections(sections, 1000)
    assert [(c.index, c.heading, c.content) for c in chunks] == [
        (0, "Call with Acme", "Call with Acme"),
        (1, "Follow-ups", "Follow-ups"),
    ]


def test_headings_with_text_add_no_heading_chunks() -> None:
    sections = [Section("Intro", None, ""), Section("Body", None, "Some text.")]
    assert [c.content for c in chunk_sections(sections, 1000)] == ["Some text."]
