"""Reading RFC 9457 problem details that the API answered: one decoder for every client.

Standard library only, so the CLI's fast path, the MCP tools and the Memory Gateway's
HTTP client can all import it without loading the app.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
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

    def named(self, names: Mapping[str, str]) -> Problem:
        """The problem in a client's own words: each field in `names` (the API's name →
        the client's, e.g. `salience_score` → `--salience`) renamed in errors and detail."""
        if not names:
            return self
        words = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")(?![\w])")

        def rename(text: str) -> str:
            return words.sub(lambda m: names[m.group(1)], text)

        # The messages too: one naming another field (`leave client_id out`) would
        # otherwise differ from the detail, and be shown a second time in the API's words.
        errors = [
            {
                **e,
                "field": names.get(str(e.get("field")), e.get("field")),
                **({"message": rename(e["message"])} if isinstance(e.get("message"), str) else {}),
            }
            for e in self.errors
        ]
        detail = rename(self.detail)
        return Problem(self.status, self.title, detail, errors)

    def message(self) -> str:
        """The problem as one plain line: each field and its reason, once.

        A detail that only lists the fields' reasons (a validation failure's) gives way to
        them; any other detail comes first, followed by the reasons it does not already
        say. "body" (the API's name for the request as a whole) is not shown as a field,
        nor a field that its reason already begins with ("end must be after start")."""
        said = reasons(self.errors)
        if not said:
            return self.detail
        rest = self.detail
        for e in self.errors:
            message = str(e.get("message") or "")
            if message:
                rest = rest.replace(f"{e.get('field')}: {message}", "").replace(message, "")
        if not rest.strip(" ;,.:()[]"):
            return "; ".join(said)
        said_by_detail = [e for e in self.errors if str(e.get("message")) in self.detail]
        unsaid = reasons([e for e in self.errors if e not in said_by_detail])
        # A reason the detail gives in full, about a field it does not name: named first.
        unnamed = [
            f
            for f in dict.fromkeys(str(e.get("field") or "") for e in said_by_detail)
            if f not in WHOLE_REQUEST and not _mentions(self.detail, f)
        ]
        text = f"{', '.join(unnamed)}: {self.detail}" if unnamed else self.detail
        return f"{text} ({'; '.join(unsaid)})" if unsaid else text

    def headline(self) -> str:
        """`title (status): message`, the title alone where the message only repeats it."""
        message = self.message()
        if message in ("", self.title):
            return f"{self.title} ({self.status})"
        return f"{self.title} ({self.status}): {message}"


WHOLE_REQUEST = frozenset({"", "body"})


def field_path(loc: Any) -> str:
    """A validation error's place as every refusal names it: a list item by its index
    in brackets (`sop.steps[0].tasks[1].title`), as the checks written by hand do
    (`ontology.sop`); pydantic's `steps.0.tasks.1` gave one error two spellings."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _mentions(text: str, field: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(field) + r"(?![\w])", text) is not None


def reasons(errors: list[dict[str, Any]]) -> list[str]:
    """Each field's reasons, in order, as `field: reason; reason`, without repeats: the
    reason alone where the field is the whole request or the reason begins with it."""
    by_field: dict[str, list[str]] = {}
    for e in errors:
        message = str(e.get("message") or "").strip()
        if not message:
            continue
        field = str(e.get("field") or "")
        said = by_field.setdefault(field, [])
        if message not in said:
            said.append(message)
    out = []
    for field, said in by_field.items():
        if field in WHOLE_REQUEST:
            out.extend(said)
            continue
        starts = re.compile(re.escape(field) + r"(?![\w.\[])")
        named = [m for m in said if starts.match(m)]
        if named:
            out.extend(named)
        rest = [m for m in said if m not in named]
        if rest:
            out.append(f"{field}: {'; '.join(rest)}")
    return out


def decode_problem(status: int, body: Any, reason: str = "") -> Problem:
    """The problem in an answer's body: parsed JSON, raw text, or bytes (None: empty)."""
    if isinstance(body, bytes | str):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = _page(text, f"HTTP {status} {reason}".strip()) or text[:TEXT_MAX]
    fallback = reason or f"HTTP {status}"
    if not isinstance(body, dict):
        return Problem(status, fallback, str(body or fallback))
    title = str(body.get("title") or fallback)
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    return Problem(status, title, str(body.get("detail") or title), errors)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _page(text: str, answered: str) -> str | None:
    """An HTML page (a proxy's error page, another server's) summarised by its title, or
    None for other text: the CLI pasted the whole page, markup and all, as its error."""
    head = text.lstrip()[:TEXT_MAX].lower()
    if not head.startswith("<") or "html" not in head:
        return None
    found = _TITLE.search(text[:20_000])
    title = " ".join(html.unescape(found.group(1)).split())[:120] if found else ""
    named = f" titled {title!r}" if title else ""
    return (
        f"{answered} with an HTML page{named} instead of Almanac's API answer: another "
        "server or a proxy answered (is the URL right, and is Almanac running behind it?)"
    )


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
    if kind == "finite_number":  # pydantic's "Input should be a finite number"
        return "must be a finite number, not NaN or Infinity"
    return str(err.get("msg", "invalid"))


def _characters(n: object) -> str:
    return f"{n} character" if n == 1 else f"{n} characters"
