"""`GET /api/v1/export`: the `almanac export` file over HTTP, for admins only."""

from __future__ import annotations

import json

import httpx

from almanac.backup.export import FORMAT, TABLES


async def test_export_streams_everything_as_jsonl(committed_client: httpx.AsyncClient) -> None:
    marker = "export-endpoint-marker-5d1c"
    r = await committed_client.post(
        "/api/v1/memory/remember", json={"content": f"Acme prefers mornings {marker}"}
    )
    assert r.status_code == 201, r.text
    fact = await committed_client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "acme",
            "fact_type": "preference",
            "content": f"Acme wants weekly reports {marker}",
        },
    )
    assert fact.status_code == 201, fact.text

    out = await committed_client.get("/api/v1/export")
    assert out.status_code == 200, out.text
    assert out.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in out.headers["content-disposition"]
    lines = [json.loads(line) for line in out.text.splitlines()]
    header, rows = lines[0], lines[1:]
    assert header["format"] == FORMAT
    assert set(header["tables"]) == {name for name, _ in TABLES}
    by_table: dict[str, int] = {}
    for line in rows:
        by_table[line["table"]] = by_table.get(line["table"], 0) + 1
    # The header's counts are the rows that follow, table by table.
    assert {k: v for k, v in header["tables"].items() if v} == by_table
    texts = [json.dumps(line["row"]) for line in rows if line["table"] in ("events", "facts")]
    assert sum(marker in t for t in texts) >= 2


async def test_export_needs_an_admin_key(client: httpx.AsyncClient) -> None:
    for scope in ("read", "write"):
        made = await client.post("/api/v1/auth/keys", json={"name": f"x-{scope}", "scope": scope})
        key = made.json()["key"]
        r = await client.get("/api/v1/export", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 403, (scope, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    anon = await client.get("/api/v1/export", headers={"Authorization": ""})
    assert anon.status_code == 401
