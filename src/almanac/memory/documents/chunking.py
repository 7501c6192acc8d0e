"""Sections into chunks: whole paragraphs under one heading, up to a size (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from almanac.memory.documents.extract import Section

_PARAGRAPHS = re.compile(r"\n\s*\n")
# Every chunk under a heading stores it (and recall cites it): a 1 MB heading line over
# a few hundred chunks stored hundreds of MB. Cut like a document's title.
HEADING_CHARS = 500
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    index: int
    heading: str | None
    page: int | None
    content: str


def chunk_sections(sections: list[Section], max_chars: int) -> list[Chunk]:
    """Chunks never cross a heading or a page; a paragraph is split only when it alone is
    longer than `max_chars`, at sentence ends (or hard, for text without any)."""
    chunks: list[Chunk] = []
    for section in sections:
        heading = section.heading[:HEADING_CHARS] if section.heading else section.heading
        for content in _pack(_pieces(section.text, max_chars), max_chars):
            chunks.append(Chunk(len(chunks), heading, section.page, content))
    if not chunks:
        # A file of headings alone (a note that is only its title) was refused as having
        # no text: its headings are its text, one chunk each.
        for section in sections:
            if section.heading and section.heading.strip():
                heading = section.heading[:HEADING_CHARS]
                chunks.append(Chunk(len(chunks), heading, section.page, heading))
    return chunks


def _pieces(text: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    for para in _PARAGRAPHS.split(text):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para) <= max_chars:
            pieces.append(para)
            continue
        for sentence in _SENTENCES.split(para):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:]
            if sentence:
                pieces.append(sentence)
    return pieces


def _pack(pieces: list[str], max_chars: int) -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > max_chars:
            out.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        out.append(current)
    return out
