"""Every operation documents the error statuses it can answer, as problem+json."""

from __future__ import annotations

import re

import httpx

WRITES = {"post", "put", "patch", "delete"}


async def test_every_operation_lists_its_error_statuses_as_problems(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    operations = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 60
    for method, path, op in operations:
        responses = op["responses"]
        expected = {"400", "429"}
        if path != "/health":
            expected |= {"503"}
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        if path != "/health":
            expected.add("404")
        if method in WRITES:
            expected |= {"404", "409", "413", "415"}
        if (method, path) not in {("get", "/health"), ("get", "/api/v1/calendar/feed.ics")}:
            expected |= {"401", "403"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")) and path != "/health":
                assert list(response["content"]) == ["application/problem+json"], (path, status)


async def test_an_error_is_served_as_documented(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/memory/events/999999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(r.json())


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
