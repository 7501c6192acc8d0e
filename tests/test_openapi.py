"""The OpenAPI description works as a tool server: short unique operationIds, one-line
summaries on every operation."""

from __future__ import annotations

import re

import httpx


async def test_operation_ids_are_short_unique_and_summaries_one_line(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) > 60
    for op in operations:
        assert re.fullmatch(r"[a-z][a-z0-9_]{1,40}", op["operationId"]), op["operationId"]
        summary = op["summary"]
        assert summary and "\n" not in summary and len(summary) <= 120, op["operationId"]
    by_id = {op["operationId"]: op for op in operations}
    assert by_id["remember"]["summary"] == "Store a memory (idempotent with `idempotency_key`)"
    assert by_id["context"]["summary"].startswith("One prompt-ready text block")
