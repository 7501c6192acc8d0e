"""Shapes of the documents API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w.-]+$")]


class DocumentOut(BaseModel):
    id: int
    source: str
    title: str
    media_type: str
    client_id: int | None
    tags: list[str]
    pages: int
    size_bytes: int
    chunks: int
    content_hash: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DocumentAddOut(DocumentOut):
    # created: new; replaced: the file changed and its chunks were rebuilt; updated: the
    # same file with other tags, title or metadata, now stored (a new title re-embeds its
    # chunks); unchanged: the same file saying nothing new, a no-op.
    status: Literal["created", "replaced", "updated", "unchanged"]


class ChunkOut(BaseModel):
    index: int
    heading: str | None
    page: int | None
    content: str


class DocumentDetailOut(DocumentOut):
    chunk_list: list[ChunkOut]


class DocumentListOut(BaseModel):
    items: list[DocumentOut]
    limit: int
    offset: int
