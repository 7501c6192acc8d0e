"""The OpenAPI document lists every status an operation can answer, with its problem body.

What each operation answers follows from its shape, the middleware in front of it and what
its route declares (`almanac.problems.answers`) --

- every operation: 400 (a Host not allowed, malformed JSON);
- behind a key (all but the public routes of `auth.policy`): 401, 403 and 429 (the key's
  rate limit); a public unsafe method still answers 403 to a cross-site request;
- with path parameters: 404 (the id names nothing); 422 for every operation, as each
  refuses a query parameter it does not take (`routing.checked_query`; those marked
  `open_query` take parameters, so they answer 422 too);
- with a body: 413 (too large) and 415 (not JSON, or not the type the route takes);
- declared by the route: 404 for ids in a body or query, 409 where its logic conflicts,
  503 where it calls a dependency that can be down.

Errors are `application/problem+json` (RFC 9457), as problems.py renders them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from almanac.auth.policy import SAFE_METHODS, is_public
from almanac.problems import PROBLEM_JSON, STATUS_TITLES
from almanac.routing import OPEN_QUERY

_TITLES = STATUS_TITLES
# Public routes with their own credentials: the feed's token, the key sign-in exchanges.
_OWN_CREDENTIALS = {("get", "/api/v1/calendar/feed.ics"), ("post", "/api/v1/auth/session")}

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


def statuses(
    method: str, path: str, operation: dict[str, Any], *, checked: bool = True
) -> set[int]:
    """The error statuses `operation` can answer (`checked`: its query is checked)."""
    found = {400}
    public = is_public(method.upper(), path)
    if not public:
        found |= {401, 403, 429}
    elif method.upper() not in SAFE_METHODS:
        found.add(403)  # cross-site Origin / Sec-Fetch-Site
    if (method, path) in _OWN_CREDENTIALS:
        found.add(401)
    parameters = operation.get("parameters") or []
    if any(p.get("in") == "path" for p in parameters):
        found.add(404)
    if checked or parameters or operation.get("requestBody"):
        found.add(422)
    if operation.get("requestBody"):
        found |= {413, 415}
    declared = {int(code) for code in operation.get("responses", {}) if code.isdigit()}
    found |= declared & set(_TITLES)
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
            checked = not operation.get(OPEN_QUERY)
            for status in sorted(statuses(method, path, operation, checked=checked)):
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
