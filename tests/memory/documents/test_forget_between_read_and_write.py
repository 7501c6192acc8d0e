"""A forget of a client that runs while an upload of one of its documents is under way,
after the upload read the stored document and before it wrote: the upload then writes
a document the forget deleted (a 500), or kept its forgotten tags."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from almanac.memory.documents.repository import DocumentRepository
from almanac.state import AppState
from tests.interleave import stop_inside

D = "/api/v1/memory/documents"


@pytest.mark.parametrize(
    ("body", "tags"), [(b"# Plan\n\nA new text of the plan.\n", None), (b"# Plan\n\nOld.\n", "x")]
)
async def test_a_forget_between_an_uploads_read_and_write_leaves_a_whole_answer(
    committed_client: httpx.AsyncClient,
    committed_state: AppState,
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    tags: str | None,
) -> None:
    first = await committed_client.post(
        D,
        files={"file": ("plan.md", b"# Plan\n\nOld.\n")},
        data={"client_id": "7", "tags": "forgotten"},
    )
    assert first.status_code in (200, 201), first.text

    async def forget() -> httpx.Response:
        return await committed_client.delete("/api/v1/memory/subjects/client/7")

    started = stop_inside(monkeypatch, DocumentRepository, "by_source", forget, committed_state)
    data = {"client_id": "7"} | ({"tags": tags} if tags else {})
    r = await committed_client.post(D, files={"file": ("plan.md", body)}, data=data)
    gone = await asyncio.wait_for(started[0], 30)
    assert gone.status_code == 200, gone.text
    assert r.status_code in (200, 201), r.text
    listed = await committed_client.get(D, params={"client_id": 7})
    await committed_client.delete("/api/v1/memory/subjects/client/7")
    # What the upload answered is what is stored, with nothing of the forgotten one.
    items = listed.json()["items"]
    assert [d["id"] for d in items] == [r.json()["id"]], (items, r.json())
    assert r.json()["status"] == "created", r.json()
    assert "forgotten" not in items[0]["tags"], items
