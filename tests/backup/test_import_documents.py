"""Importing documents into a database that already holds documents of its own.

Ids are kept, so a file's document can meet a different document at its id, or the same
source under another id: its chunks must never end up inside a document they are not
from, and a clash is a skipped row, not a crash.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from almanac.backup.export import TABLES, ExportFileError, import_all
from almanac.db.uow import UnitOfWork
from almanac.memory.documents.repository import DocumentRepository
from almanac.models import DocChunk
from tests.conftest import ok

NOTES = b"# Notes\n\nThe boiler was serviced in March.\n\n## Keys\n\nThe spare key is with Ana.\n"
OTHER = b"# Other\n\nThe garden gate sticks in winter.\n"


async def _upload(client: httpx.AsyncClient, name: str, body: bytes) -> int:
    r = await client.post("/api/v1/memory/documents", files={"file": (name, body)})
    return int((await ok(r, r.status_code if r.status_code in (200, 201) else 201))["id"])


async def _rows(uow: UnitOfWork, table: str) -> list[dict[str, Any]]:
    return await DocumentRepository(uow.session).export_rows(table, 0, 1000)


def _file(documents: list[dict[str, Any]], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in TABLES}
    rows["documents"], rows["doc_chunks"] = documents, chunks
    return rows


async def _contents(uow: UnitOfWork, document_id: int) -> list[str]:
    result = await uow.session.scalars(
        select(DocChunk.content)
        .where(DocChunk.document_id == document_id)
        .order_by(DocChunk.chunk_index)
    )
    return list(result)


async def test_a_document_already_here_under_another_id_is_skipped_with_its_chunks(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """Another installation's export holds the same file at other ids: the import skips it
    (present) rather than failing on a chunk whose document was not inserted."""
    here = await _upload(client, "notes.md", NOTES)
    [doc] = await _rows(uow, "documents")
    chunks = await _rows(uow, "doc_chunks")
    theirs = {**doc, "id": doc["id"] + 1000}
    their_chunks = [{**c, "id": c["id"] + 1000, "document_id": theirs["id"]} for c in chunks]

    report = await import_all(uow, _file([theirs], their_chunks))

    assert report.inserted["documents"] == 0 and report.inserted["doc_chunks"] == 0
    assert report.present["doc_chunks"] == len(chunks)
    assert len(await _rows(uow, "doc_chunks")) == len(chunks)
    assert await _contents(uow, here) == [c["content"] for c in chunks]


async def test_chunks_never_join_a_different_document_at_their_documents_id(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """The database's document at the file's document id is another file: the file's
    chunks stay out instead of becoming passages recall cites under the wrong title."""
    here = await _upload(client, "other.md", OTHER)
    [doc] = await _rows(uow, "documents")
    before = await _contents(uow, here)
    theirs = {**doc, "source": "notes.md", "title": "Notes", "content_hash": "f" * 64}
    their_chunks = [
        {
            **(await _rows(uow, "doc_chunks"))[0],
            "id": 5000 + i,
            "chunk_index": i,
            "content": f"their passage {i}",
        }
        for i in range(3)
    ]

    report = await import_all(uow, _file([theirs], their_chunks))

    assert report.inserted["doc_chunks"] == 0
    assert await _contents(uow, here) == before


async def test_an_older_version_of_the_same_document_adds_no_stale_passages(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """An export taken before the document was replaced by a shorter version: re-importing
    it must not append the old version's extra passages to the new one."""
    here = await _upload(client, "notes.md", NOTES)
    old_doc = (await _rows(uow, "documents"))[0]
    old_chunks = await _rows(uow, "doc_chunks")
    assert len(old_chunks) > 1
    await _upload(client, "notes.md", OTHER)  # replaced: fewer chunks, new chunk ids
    now = await _contents(uow, here)
    assert len(now) < len(old_chunks)

    await import_all(uow, _file([old_doc], old_chunks))

    assert await _contents(uow, here) == now


async def test_a_chunk_whose_document_is_not_in_the_file_is_a_file_error(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    await _upload(client, "notes.md", NOTES)
    chunk = (await _rows(uow, "doc_chunks"))[0]
    orphan = {**chunk, "id": 9000, "document_id": 8999}

    with pytest.raises(ExportFileError, match="8999"):
        await import_all(uow, _file([], [orphan]))
