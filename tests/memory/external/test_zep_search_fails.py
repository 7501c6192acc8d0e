"""Zep answering its health probe but failing recall's search (a search quota spent, an
answer of another shape): recall degrades, and /health says so until a search succeeds."""

from __future__ import annotations

import httpx
import pytest

from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep
from tests.memory.external.test_zep import configure

REPLIES = {
    "rate-limited": (429, b'{"message": "search rate limit reached"}', "zep answered 429"),
    "other-shape": (
        200,
        b'{"edges": "none", "episodes": 7}',
        "zep answered something that is not its API's JSON (2 error(s) reading it as "
        "GraphSearchResults)",
    ),
}


@pytest.mark.parametrize("reply", list(REPLIES))
async def test_health_says_recall_goes_without_zep_until_a_search_succeeds(
    client: httpx.AsyncClient, state: AppState, zep: FakeZep, reply: str
) -> None:
    """/health probed Zep with a user lookup, which passed: "ok" while every recall
    skipped Zep."""
    configure(state, zep.base_url)
    body = {"content": "Initech wants weekly status reports"}
    assert (await client.post("/api/v1/memory/remember", json=body)).status_code == 201
    status, data, said = REPLIES[reply]
    zep.search_reply = (status, data)
    query = {"query": "weekly status reports"}
    try:
        r = await client.get("/api/v1/memory/recall", params=query)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["zep"] == "skipped" and out["degraded"] is True
        assert said in out["detail"] and "validation" not in out["detail"]
        assert [h["content"] for h in out["results"]] == [body["content"]]

        health = (await client.get("/health")).json()
        dep = health["dependencies"]["zep"]
        assert dep["status"] == "degraded" and health["status"] == "degraded", dep
        assert dep["detail"].startswith("recall's search of zep fails") and said in dep["detail"]
        # Asked again, /health searches again: still failing, still said.
        again = (await client.get("/health")).json()["dependencies"]["zep"]
        assert again["status"] == "degraded" and said in again["detail"]

        zep.search_reply = None  # Zep's search is back: /health says so, before any recall
        assert (await client.get("/health")).json()["dependencies"]["zep"]["status"] == "ok"
        other = {"query": "weekly status", "k": 3}  # not the cached recall
        used = (await client.get("/api/v1/memory/recall", params=other)).json()
        assert used["zep"] == "used" and used["degraded"] is False, used
    finally:
        await state.external.close()  # type: ignore[union-attr]
        state.external = None
