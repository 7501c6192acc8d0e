"""The OpenAPI document lists every status an operation can answer, with its problem body.

One post-processor instead of a `responses=` on every route: what each operation can
raise follows from its shape and the middleware in front of it --

- every operation: 400 (a Host not allowed, malformed JSON), 401/403 (API keys and
  scopes), 429 (rate limits) and 503 (a dependency that is down);
- with parameters or a body: 422 (a field out of bounds);
- with a body: 413 (too large) and 415 (not JSON, or not iCalendar for the import);
- 404 on every operation but /health: ids arrive in paths, bodies and query parameters
  (a plan to schedule, a graph node to start from), and a write may also be 409.

Errors are `application/problem+json` (RFC 9457), as problems.py renders them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

PROBLEM_JSON = "application/problem+json"
_WRITES = {"post", "put", "patch", "delete"}
_TITLES = {
    400: "Bad request (Host not allowed, or malformed JSON)",
    401: "Missing or wrong API key",
    403: "The key lacks the scope, or the request comes from another site",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Validation failed (the problem names each field)",
    429: "Too many requests (see Retry-After)",
    503: "A dependency is unavailable",
}
# Operations that take no key (API keys, branch `keys`): no 401/403 there.
_PUBLIC = {("get", "/health"), ("get", "/api/v1/calendar/feed.ics")}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses `operation` can answer."""
    found = {400, 429, 503}
    if (method, path) not in _PUBLIC:
        found |= {401, 403}
    if (method, path) == ("get", "/api/v1/calendar/feed.ics"):
        found.add(401)  # its own token
    if operation.get("parameters") or operation.get("requestBody"):
        found.add(422)
    if operation.get("requestBody") or method in _WRITES:
        found |= {413, 415}
    if path != "/health":
        found.add(404)
    if method in _WRITES:
        found.add(409)
    return found


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add each operation's error statuses, all as problem+json, to an OpenAPI document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses(method, path, operation)):
                key = str(status)
                if path == "/health" and status == 503:
                    continue  # /health answers 503 with its own report (documented below)
                responses[key] = {
                    "description": _TITLES[status],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
    health = schema.get("paths", {}).get("/health", {}).get("get")
    if health is not None:
        ok = health["responses"].get("200", {})
        health["responses"]["503"] = {
            "description": "A required dependency is down",
            "content": ok.get("content", {}),
        }
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    return schema


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (`remember`, `list_plans`): short and unique, so tool
    servers (Open WebUI, LLM function calling) can name a tool after it."""
    return route.name


def _summary(operation: dict[str, Any]) -> str:
    description = (operation.get("description") or "").strip()
    if description:
        return description.splitlines()[0].strip().rstrip(".")
    return str(operation.get("summary") or operation["operationId"].replace("_", " ").title())


def _summaries(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation's summary is the first line of its docstring."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["summary"] = _summary(operation)
    return schema


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _summaries(
                document_problems(
                    get_openapi(
                        title=app.title,
                        version=app.version,
                        description=app.description,
                        routes=app.routes,
                    )
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
