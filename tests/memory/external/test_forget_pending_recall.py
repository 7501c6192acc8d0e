"""Recall while a deletion in Zep is still queued (Zep was down when the subject was
forgotten, and is back before the job's next try): nothing forgotten comes back."""

from __future__ import annotations

import httpx

from almanac.memory.external.sync import send_event
from almanac.state import AppState
from tests.doubles.zep_cloud import FakeZep
from tests.memory.external.test_zep import closed_port_url, configure
from tests.memory.external.test_zep_forget import close, forget, remember, run_queued_forget


async def _recall(api: httpx.AsyncClient, **params: object) -> dict:  # type: ignore[type-arg]
    r = await api.get("/api/v1/memory/recall", params={"query": "Elm Street address", **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_forgotten_person_does_not_come_back_from_zep_before_its_deletion_runs(
    committed_client: httpx.AsyncClient, committed_state: AppState, zep: FakeZep
) -> None:
    """Zep still held the person's message (and what it learnt from it) until the queued
    deletion ran: every recall meanwhile fused it in, the forget's answer notwithstanding."""
    api, state = committed_client, committed_state
    configure(state, zep.base_url)
    ann = await remember(
        api,
        content="Ann Lee's home address is 12 Elm Street",
        session_id="standup",
        metadata={"subject_type": "person", "subject_id": "ann"},
    )
    bob = await remember(api, content="Bob's address is 3 Elm Street", client_id=4)
    try:
        assert await send_event(state, ann) is True
        assert await send_event(state, bob) is True
    finally:
        await close(state)

    configure(state, closed_port_url())  # Zep is down: the deletion waits in the queue
    try:
        assert (await forget(api, "person/ann"))["zep"] == "queued"
    finally:
        await close(state)

    configure(state, zep.base_url)  # back, before the job's next try
    try:
        out = await _recall(api)
        assert "Ann Lee" not in str(out["results"]), out
        assert out["zep"] == "skipped" and out["degraded"] is True
        assert "deletion" in out["detail"] and "queued" in out["detail"]
        # Another Zep user (a client's) has nothing to delete: Zep is asked for it.
        theirs = await _recall(api, client_id=4)
        assert theirs["zep"] == "used", theirs

        await run_queued_forget(state)  # the deletion ran: Zep is asked again
        after = await _recall(api)
        assert after["zep"] == "used" and "Ann Lee" not in str(after["results"])
    finally:
        await close(state)
