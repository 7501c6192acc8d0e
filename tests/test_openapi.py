"""Every operation documents the error statuses it can answer, as problem+json."""

from __future__ import annotations

import re

import httpx

WRITES = {"post", "put", "patch", "delete"}
# Operations that need no key (auth.policy.PUBLIC_ROUTES as documented).
PUBLIC = {
    ("get", "/health"),
    ("get", "/api/v1/calendar/feed.ics"),
    ("get", "/oauth/callback"),
    ("post", "/api/v1/auth/session"),
}
# Operations whose ids arrive in the body or query rather than the path.
ID_IN_BODY_OR_QUERY = {
    ("post", "/api/v1/planner/plan"),
    ("post", "/api/v1/scheduler/schedule"),
    ("post", "/api/v1/scheduler/replan"),
    ("post", "/api/v1/observer/extract-facts"),
    ("get", "/api/v1/graph/paths"),
    ("get", "/api/v1/graph/impact"),
    ("post", "/api/v1/planner/process-templates"),
    ("post", "/api/v1/planner/blueprints"),
    ("post", "/api/v1/planner/workflows"),
    ("post", "/api/v1/planner/execution-runs"),
}


async def test_every_operation_lists_its_error_statuses_as_problems(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    operations = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 60
    for method, path, op in operations:
        responses = {int(s) for s in op["responses"] if s[0] in "45"}
        params = op.get("parameters") or []
        assert 400 in responses, (method, path)
        if (method, path) not in PUBLIC:
            assert {401, 403, 429} <= responses, (method, path)
        else:
            # Only the sign-in counts wrong keys (per address), as a key in a header does.
            signin = (method, path) == ("post", "/api/v1/auth/session")
            assert (429 in responses) == signin, (method, path)
        if any(p["in"] == "path" for p in params):
            assert 404 in responses, (method, path)
        elif 404 in responses:
            assert (method, path) in ID_IN_BODY_OR_QUERY, (method, path)
        # Every operation refuses a query parameter it does not take (routing.checked_query).
        assert 422 in responses, (method, path)
        # Only a body can be too large or of the wrong type.
        assert ({413, 415} <= responses) == ("requestBody" in op), (method, path)
        if 409 in responses:
            assert method in WRITES, (method, path)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/health":
                assert list(response["content"]) == ["application/problem+json"], (path, status)


async def test_statuses_follow_what_each_operation_does(client: httpx.AsyncClient) -> None:
    """Not every status on every operation: spot checks of what each can really answer."""
    doc = (await client.get("/openapi.json")).json()

    def errors(method: str, path: str) -> set[int]:
        return {int(s) for s in doc["paths"][path][method]["responses"] if s[0] in "45"}

    assert errors("get", "/health") == {400, 422, 503}
    assert errors("get", "/api/v1/calendar/feed.ics") == {400, 401, 422}
    assert errors("get", "/api/v1/planner/plans") == {400, 401, 403, 422, 429}
    assert errors("get", "/api/v1/planner/plans/{plan_id}") == {400, 401, 403, 404, 422, 429}
    # A write without a body: no 413/415; it conflicts with the plan's status.
    assert errors("post", "/api/v1/planner/plans/{plan_id}/approve") == {
        400, 401, 403, 404, 409, 422, 429,
    }  # fmt: skip
    # Recall depends on the embeddings service; it conflicts with nothing.
    assert errors("get", "/api/v1/memory/recall") == {400, 401, 403, 422, 429, 503}
    assert errors("post", "/api/v1/scheduler/schedule") == {
        400, 401, 403, 404, 409, 413, 415, 422, 429, 503,
    }  # fmt: skip
    assert 409 not in errors("delete", "/api/v1/scheduler/sprints/{sprint_id}")
    assert 503 not in errors("get", "/api/v1/scheduler/sprints")
    assert 409 in errors("post", "/api/v1/auth/keys")
    assert errors("post", "/api/v1/auth/session") >= {401, 403}


async def test_every_operation_lists_the_422_it_answers_a_parameter_it_does_not_take(
    client: httpx.AsyncClient,
) -> None:
    """`GET /observer/patterns` takes no parameter and answers `?client_id=7` with a 422
    (as every operation answers one it does not take): its entry listed no 422."""
    doc = (await client.get("/openapi.json")).json()
    missing = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            answer = op["responses"].get("422", {})
            schema = answer.get("content", {}).get("application/problem+json", {}).get("schema")
            if schema != {"$ref": "#/components/schemas/Problem"}:
                missing.append((method, path))
    assert missing == []
    r = await client.get("/api/v1/observer/patterns", params={"client_id": "7"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


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


def _bound_keys(node: object, where: str = "") -> list[str]:
    """Where a schema carries pydantic's `le`/`ge`/`lt`/`gt` instead of JSON Schema's."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in ("number", "integer"):
            found += [f"{where}.{k}" for k in ("le", "ge", "lt", "gt") if k in node]
        for key, value in node.items():
            found += _bound_keys(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _bound_keys(value, f"{where}[{i}]")
    return found


async def test_number_bounds_are_json_schema_keywords(client: httpx.AsyncClient) -> None:
    """Hours of work bounded after their check came out as `le`/`gt` (the PATCH task and
    time schemas, sprints), which JSON Schema does not know: a client saw no bound."""
    doc = (await client.get("/openapi.json")).json()
    assert _bound_keys(doc) == []
    schemas = doc["components"]["schemas"]
    time_in = schemas["TimeIn"]["properties"]["hours"]
    assert time_in["maximum"] == 24 and time_in["exclusiveMinimum"] == 0
    patch = schemas["TaskPatch"]["properties"]["estimate_hours"]
    assert patch["maximum"] == 1000 and patch["type"] == "number"
    sprint = schemas["SprintIn"]["properties"]["capacity_hrs"]
    assert sprint["maximum"] == 168 and sprint["exclusiveMinimum"] == 0


async def test_a_previews_run_id_is_described_where_it_is_sent(client: httpx.AsyncClient) -> None:
    # The README tells users to apply a preview by its run_id; the API description said
    # nothing of what the field does.
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("ScheduleIn", "ReplanIn"):
        described = schemas[name]["properties"]["run_id"].get("description", "")
        assert "dry_run=false" in described and "409" in described, name
