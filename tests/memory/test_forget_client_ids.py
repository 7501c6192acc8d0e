"""Forgetting `client/<id>` reads the id as it is written (ASCII digits, no leading zero):
"01" or "٣" forgot client 1's or 3's rows by their client id (while the memories tagged
"client"/"1" stayed: half a client forgotten), and "²" was a 500."""

from __future__ import annotations

import httpx
import pytest

F = "/api/v1/memory/subjects/client"


@pytest.mark.parametrize("written", ["01", "٣", "²", "1 ", "0"])
async def test_an_id_not_written_as_a_client_id_forgets_no_client(
    client: httpx.AsyncClient, written: str
):
    one = await client.post("/api/v1/memory/remember", json={"content": "alpha", "client_id": 1})
    three = await client.post("/api/v1/memory/remember", json={"content": "beta", "client_id": 3})
    assert one.status_code == three.status_code == 201, (one.text, three.text)
    r = await client.delete(f"{F}/{written}")
    assert r.status_code == 200, r.text
    assert r.json()["events_deleted"] == 0
    for made in (one, three):
        assert (await client.get(f"/api/v1/memory/events/{made.json()['id']}")).status_code == 200
    # Written as an id, the client is forgotten.
    assert (await client.delete(f"{F}/1")).json()["events_deleted"] == 1
    assert (await client.get(f"/api/v1/memory/events/{one.json()['id']}")).status_code == 404
