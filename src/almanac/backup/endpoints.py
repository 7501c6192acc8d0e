"""`GET /api/v1/export`: the same JSONL file as `almanac export`, for the dashboard."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, cast

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from almanac.auth.deps import AdminOnly
from almanac.backup.export import export_all
from almanac.db.migrate import current_revision
from almanac.deps import State

router = APIRouter(prefix="/api/v1", tags=["data"])

# Exports up to this size stay in memory; larger ones spill to a private temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024


@router.get(
    "/export",
    dependencies=[AdminOnly],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_everything(state: State) -> StreamingResponse:
    """Everything the user owns as one JSONL file (the format of `almanac export`)."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8")
    try:
        # Written whole before the first byte is sent, so a failure is a clean error
        # rather than a truncated download.
        await export_all(state, cast(IO[str], spool), await current_revision(state.engine))
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[str]:
        with spool:
            while part := spool.read(_CHUNK):
                yield part

    name = f"almanac-export-{datetime.now(UTC):%Y%m%d-%H%M%S}.jsonl"
    return StreamingResponse(
        chunks(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
