"""A tool call's arguments, checked before the SDK's own validation reads them.

The SDK validates arguments in pydantic's lax mode: JSON `true` passed as a number
(salience, k, hours, ids) became 1, and a refusal carried pydantic's wording and its
documentation URL. Here a boolean where the schema takes none is refused, as is anything
but a boolean where the schema takes only one (lax mode read `1` as true), and a number
where it takes only text (lax mode read `0` as the date 1970-01-01), and every refusal
names the argument and the reason in a short line. An argument the tool does not take is
refused too (the SDK dropped it, so a filter misnamed was a call unfiltered).
"""

from __future__ import annotations

from typing import Any

from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.tools import Tool
from pydantic import ValidationError

from almanac.http_problems import error_message
from almanac.types import NOT_A_DATE, NOT_A_TIME

_PREFIXES = ("Value error, ", "Assertion failed, ")
_FORMAT = {"date": NOT_A_DATE, "date-time": NOT_A_TIME}  # as REST words them
_KIND = {"integer": "an integer", "number": "a number", "string": "a string"}
_SHOWN = 5  # errors named in one message
_QUOTED = 40  # characters of a refused value quoted back (a huge one is not echoed whole)


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> None:
    """Raise a `ToolError` naming each bad argument; return quietly when they are valid."""
    schema = tool.parameters
    defs = schema.get("$defs") or {}
    props = schema.get("properties") or {}
    parsed = tool.fn_metadata.pre_parse_json(arguments)
    for name in parsed:
        # The SDK drops an argument the tool does not take: `recall` given `for_client`
        # (get_facts' name for it) answered every client's memories, unfiltered.
        if name not in props:
            takes = ", ".join(sorted(props)) or "no arguments"
            shown = name if len(name) <= _QUOTED else name[: _QUOTED - 1] + "…"
            raise ToolError(f"{tool.name}: {shown}: unknown argument; {tool.name} takes {takes}")
    for name, value in parsed.items():
        bad = _mistyped(value, props[name], defs, name)
        if bad is not None:
            raise ToolError(f"{tool.name}: {bad}")
    try:
        tool.fn_metadata.arg_model.model_validate(parsed)
    except ValidationError as exc:
        raise ToolError(f"{tool.name}: {validation_text(exc)}") from None


def validation_text(exc: ValidationError) -> str:
    """`argument: reason` for each error, without pydantic's input echo or URL."""
    parts = []
    for e in exc.errors()[:_SHOWN]:
        where = _loc(e["loc"]) or "arguments"
        if e["type"] == "missing":
            reason = "is required"
        elif e["type"] == "finite_number":  # NaN's refusal said "less than or equal to 1"
            reason = error_message(dict(e))
        else:
            reason = str(e["msg"])
            for prefix in _PREFIXES:
                reason = reason.removeprefix(prefix)
        parts.append(f"{where}: {reason}")
    more = len(exc.errors()) - _SHOWN
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _types(schema: Any, defs: dict[str, Any]) -> set[str]:
    """The JSON types a schema accepts (empty: any)."""
    if not isinstance(schema, dict):
        return set()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _types(defs.get(ref.rsplit("/", 1)[-1]), defs)
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        found: set[str] = set()
        for option in options:
            kinds = _types(option, defs)
            if not kinds:
                return set()
            found |= kinds
        return found
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    return set(kind) if isinstance(kind, list) else set()


def _resolved(schema: Any, defs: dict[str, Any], kind: str) -> dict[str, Any]:
    """The part of `schema` (or of one of its options) for values of JSON type `kind`."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolved(defs.get(ref.rsplit("/", 1)[-1]), defs, kind)
    for option in schema.get("anyOf") or schema.get("oneOf") or ():
        found = _resolved(option, defs, kind)
        if found:
            return found
    return schema if schema.get("type") == kind else {}


def _mistyped(value: Any, schema: Any, defs: dict[str, Any], where: str) -> str | None:
    """`where: must be ..., not true` for the first boolean where no boolean is taken,
    `where: must be true or false, not 1` for the first other value where only one is, or
    `where: must be a date ..., not 0` for the first number where only text is."""
    if isinstance(value, bool):
        kinds = _types(schema, defs)
        if not kinds or "boolean" in kinds:
            return None
        wanted = " or ".join(_KIND.get(k, k) for k in sorted(kinds - {"null"}))
        return f"{where}: must be {wanted or 'null'}, not {str(value).lower()}"
    if isinstance(value, int | float) and _types(schema, defs) - {"null"} == {"string"}:
        # Lax mode read a number as a Unix time where a date or a time is asked
        # (`start_date: 0` asked for 1 January 1970): they are said as ISO 8601 text.
        why = _FORMAT.get(str(_resolved(schema, defs, "string").get("format")), "must be a string")
        return f"{where}: {why}, not {_quoted(value)}"
    if isinstance(value, int | float | str) and _types(schema, defs) - {"null"} == {"boolean"}:
        # Lax mode read 1 and "yes" as true: a switch is said with true or false only.
        return f"{where}: must be true or false, not {_quoted(value)}"
    if isinstance(value, list):
        items = _resolved(schema, defs, "array").get("items")
        for i, item in enumerate(value):
            bad = _mistyped(item, items, defs, f"{where}[{i}]")
            if bad is not None:
                return bad
    if isinstance(value, dict):
        props = _resolved(schema, defs, "object").get("properties") or {}
        for key, item in value.items():
            if key in props:
                bad = _mistyped(item, props[key], defs, f"{where}.{key}")
                if bad is not None:
                    return bad
    return None


def _quoted(value: int | float | str) -> str:
    """A refused value as written, cut short: the caller sent it and needs only to know it."""
    text = repr(value)
    return text if len(text) <= _QUOTED else text[: _QUOTED - 1] + "…"
