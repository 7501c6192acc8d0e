"""OpenAPI that works as a tool server: short unique operationIds and one-line summaries.

Tool-server clients (Open WebUI, LLM function calling) name each tool after its
`operationId` and describe it with its `summary`, so both must be short and meaningful.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (`remember`, `list_plans`); unique across the app."""
    return route.name


def _summary(operation: dict[str, Any]) -> str:
    description = (operation.get("description") or "").strip()
    if description:
        return description.splitlines()[0].strip().rstrip(".")
    return str(operation.get("summary") or operation["operationId"].replace("_", " ").title())


def install(app: FastAPI) -> None:
    """Every operation's summary becomes the first line of its docstring."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    operation["summary"] = _summary(operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
