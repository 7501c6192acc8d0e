"""HTTP routes for documents under /api/v1/memory/documents."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile, status

from almanac.deps import State, UoW
from almanac.errors import PayloadTooLarge, ValidationFailed
from almanac.memory.documents.schemas import (
    DocumentAddOut,
    DocumentDetailOut,
    DocumentListOut,
    Tag,
)
from almanac.memory.documents.service import DocumentService, Upload
from almanac.problems import answers
from almanac.types import Metadata

router = APIRouter(prefix="/api/v1/memory/documents", tags=["documents"])
_READ_SIZE = 64 * 1024


def get_documents(uow: UoW, state: State) -> DocumentService:
    return DocumentService(uow, state.embedder, state.cache, state.settings)


Documents = Annotated[DocumentService, Depends(get_documents)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
ClientId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


async def _read_bounded(file: UploadFile, limit: int) -> bytes:
    """Read at most `limit` bytes; one more means the file is too large (413)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(_READ_SIZE):
        size += len(chunk)
        if size > limit:
            detail = f"the file is larger than {limit} bytes"
            raise PayloadTooLarge(detail, errors=[{"field": "file", "message": detail}])
        parts.append(chunk)
    return b"".join(parts)


def _tags(raw: str | None) -> list[str]:
    from pydantic import TypeAdapter, ValidationError

    # Tags match case-insensitively, so "Draft,draft" is one tag: the first spelling stays.
    tags: list[str] = []
    for tag in (t.strip() for t in (raw or "").split(",")):
        if tag and tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
    if len(tags) > 20:
        raise ValidationFailed("at most 20 tags", field="tags")
    long = next((t for t in tags if len(t) > 50), None)
    if long is not None:  # the pattern's message below would blame the letters
        raise ValidationFailed(
            f"a tag is at most 50 characters ({long[:20]}… has {len(long)})", field="tags"
        )
    try:
        return TypeAdapter(list[Tag]).validate_python(tags)
    except ValidationError as exc:
        raise ValidationFailed(
            "tags are comma-separated words of letters, digits, '.', '_' or '-'", field="tags"
        ) from exc


def _metadata(raw: str | None) -> dict[str, Any]:
    """The form's JSON text, bounded as every other endpoint's metadata (`types.Metadata`):
    json.loads accepts NaN, \\u0000 and lone surrogates, which jsonb refuses."""
    from pydantic import TypeAdapter, ValidationError

    if not raw:
        return {}
    if len(raw) > 16 * 1024:
        raise ValidationFailed("metadata is larger than 16 KiB", field="metadata")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed("metadata must be a JSON object", field="metadata") from exc
    if not isinstance(value, dict):
        raise ValidationFailed("metadata must be a JSON object", field="metadata")
    try:
        return TypeAdapter(Metadata).validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValidationFailed(f"metadata: {reason}", field="metadata") from exc


@router.post("", status_code=status.HTTP_201_CREATED, responses=answers(503))
async def add_document(
    documents: Documents,
    state: State,
    file: Annotated[UploadFile, File(description="Markdown, plain text, HTML or PDF")],
    client_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    tags: Annotated[str | None, Form(max_length=1100, description="Comma-separated")] = None,
    title: Annotated[str | None, Form(min_length=1, max_length=500)] = None,
    source: Annotated[str | None, Form(min_length=1, max_length=500)] = None,
    metadata: Annotated[str | None, Form(description="A JSON object")] = None,
) -> DocumentAddOut:
    """Add a document; re-adding the same unchanged file is a no-op, a changed one
    replaces its chunks (`status` says which); tags, title or metadata not given stay."""
    data = await _read_bounded(file, state.settings.memory.document_max_bytes)
    for name, value in (("title", title), ("source", source)):
        if value is not None and ("\x00" in value or not value.strip()):
            raise ValidationFailed(f"{name} must be non-blank text without NUL", field=name)
    return await documents.add(
        Upload(
            data=data,
            filename=file.filename or source or "document.txt",
            declared_type=file.content_type,
            source=source,
            title=title,
            client_id=client_id,
            tags=_tags(tags),
            metadata=_metadata(metadata),
        )
    )


@router.get("")
async def list_documents(
    documents: Documents,
    client_id: ClientId = None,
    tag: Annotated[Tag | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DocumentListOut:
    """Documents, newest first, filtered by client and tag."""
    return await documents.find(client_id, tag, limit, offset)


@router.get("/{document_id}")
async def get_document(document_id: Id, documents: Documents) -> DocumentDetailOut:
    """A document with its chunks."""
    return await documents.get(document_id)


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: Id, documents: Documents) -> None:
    """Remove a document, its chunks and their vectors."""
    await documents.delete(document_id)
