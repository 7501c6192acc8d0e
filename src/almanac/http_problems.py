"""Reading RFC 9457 problem details that the API answered: one decoder for every client.

Standard library only, so the CLI's fast path, the MCP tools and the Memory Gateway's
HTTP client can all import it without loading the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TEXT_MAX = 500


@dataclass(frozen=True)
class Problem:
    """An error answer: its status, title, detail and the fields it names."""

    status: int
    title: str
    detail: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fields(self) -> list[str]:
        """`field: message` for each error that names a field."""
        return [f"{e['field']}: {e.get('message')}" for e in self.errors if e.get("field")]

    def message(self) -> str:
        """The detail as one line, naming each field it does not already mention."""
        fields = self.fields()
        if fields and not any(f in self.detail for f in fields):
            return f"{self.detail} ({'; '.join(fields)})"
        return self.detail


def decode_problem(status: int, body: Any, reason: str = "") -> Problem:
    """The problem in an answer's body: parsed JSON, raw text, or bytes (None: empty)."""
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text[:TEXT_MAX]  # an HTML error page from a proxy, say
    fallback = reason or f"HTTP {status}"
    if not isinstance(body, dict):
        return Problem(status, fallback, str(body or fallback))
    title = str(body.get("title") or fallback)
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    return Problem(status, title, str(body.get("detail") or title), errors)


def error_message(err: dict[str, Any]) -> str:
    """A pydantic error's message, as the API and the CLI word it.

    A length bound written after a validator (`Annotated[SafeStr, Field(max_length=...)]`)
    is checked by pydantic as a generic length and worded in "items"; a string's are
    characters."""
    ctx, kind = err.get("ctx") or {}, err.get("type")
    if isinstance(err.get("input"), str):
        if kind == "too_long" and "max_length" in ctx:
            return f"must be at most {_characters(ctx['max_length'])} long"
        if kind == "too_short" and "min_length" in ctx:
            return f"must be at least {_characters(ctx['min_length'])} long"
    return str(err.get("msg", "invalid"))


def _characters(n: object) -> str:
    return f"{n} character" if n == 1 else f"{n} characters"
