"""One place that turns errors into RFC 9457 problem+json responses."""

from __future__ import annotations

import functools
import logging
import re
import sys
from typing import Any

from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from almanac.errors import AlmanacError
from almanac.http_problems import error_message, field_path
from almanac.redact import redact

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
STATUS_TITLES = {
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


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the error statuses its own logic answers beyond those its shape
    implies (`almanac.openapi` derives those); the problem body is filled in there.

    404 for an id in the body or query, 409 where it raises `Conflict`, 503 where it calls a
    dependency that can be down (an embeddings API, a calendar, Google's token endpoint).
    """
    return {status: {"description": STATUS_TITLES[status]} for status in statuses}


# Characters of a problem's text: a field's name, one error's message, the detail. What a
# caller sent is quoted in some (an unknown field's name, an .ics line a parser could not
# read), and a 1 MB one came back whole, twice, to every client and the dashboard.
FIELD_MAX, MESSAGE_MAX, DETAIL_MAX = 200, 1000, 4000
# Errors listed: 60,000 unknown keys in a 0.8 MB body came back as 60,000 errors, 3.7 MB.
ERRORS_MAX = 100


def bounded(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response, its texts bounded."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": bounded(detail, DETAIL_MAX),
    }
    if errors:
        body["errors"] = [_bounded_error(e) for e in errors[:ERRORS_MAX]]
        if len(errors) > ERRORS_MAX:
            more = len(errors) - ERRORS_MAX
            body["errors"].append({"field": "body", "message": f"and {more} more errors"})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _bounded_error(error: dict[str, Any]) -> dict[str, Any]:
    out = dict(error)
    for key, limit in (("field", FIELD_MAX), ("message", MESSAGE_MAX)):
        if isinstance(out.get(key), str):
            out[key] = bounded(out[key], limit)
    return out


def _field(loc: tuple[Any, ...] | list[Any], located: bool) -> str:
    """The field an error names. FastAPI's errors begin with where the value was (`body`,
    `query`, ...), which is dropped; a model validated in an endpoint has no such part,
    so its own field named `query` (recall's) stays, where it became "body"."""
    parts = list(loc)
    if located and parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return field_path(parts) or "body"


def _errors(raw: list[Any], *, located: bool = True) -> list[dict[str, Any]]:
    out = []
    for err in raw:
        msg = error_message(err)
        field = _field(err.get("loc", ()), located)
        out.append({"field": field, "message": msg.removeprefix("Value error, ")})
    return out


async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        detail = "; ".join(str(e.get("ctx", {}).get("error", "")) for e in raw) or "invalid JSON"
        return problem(
            400,
            "Malformed JSON",
            f"The request body is not valid JSON: {detail}",
            [{"field": "body", "message": detail}],
        )
    errors = _errors(raw)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Validation failed", detail, errors)


async def _pydantic_validation(request: Request, exc: ValidationError) -> JSONResponse:
    errors = _errors(list(exc.errors()), located=False)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Validation failed", detail, errors)


def _named_path_parameter(request: Request, message: str) -> str | None:
    """The path parameter a 404's message is about: the one whose value it quotes, and
    for an `x_id` also its noun `x` (a body's `workflow 5` on `/templates/5` is not the
    path's); of several, the last (`/prompts/{name}/versions/{version}`: the version)."""
    named = None
    for name, raw in request.path_params.items():
        value = str(raw)
        said = {value, str(int(value))} if value.isdecimal() else {value}  # `/plans/05`
        pattern = "|".join(re.escape(v) for v in said)
        if not re.search(rf"(?<![\w-])({pattern})(?![\w-])", message):
            continue
        noun = name.removesuffix("_id")
        if noun != name and not re.search(r"\b" + re.escape(noun.replace("_", " ")), message):
            continue
        named = name
    return named


async def _almanac(request: Request, exc: AlmanacError) -> JSONResponse:
    # A provider's message may quote a URL with its password.
    message = redact(exc.message)
    errors = exc.errors
    if exc.status_code == 404 and not errors:
        # Every 404 names the path parameter that named nothing, as validation errors name
        # their field; where the raise site said nothing, it is the one its message quotes.
        name = _named_path_parameter(request, exc.message)
        if name is not None:
            errors = [{"field": name, "message": message}]
    return problem(exc.status_code, exc.title, message, errors, exc.headers)


def _unreadable_json(exc: StarletteHTTPException) -> str | None:
    """Why FastAPI could not parse a JSON body, when its 400 says only "an error parsing
    the body" (json raised something other than JSONDecodeError)."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8 (or UTF-16/32) text"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return f"a number in it has more than {sys.get_int_max_str_digits()} digits"
    return None


def _form_error(exc: StarletteHTTPException) -> BaseException | None:
    """The form parser's own error behind Starlette's 400 on a form it could not read
    ("Invalid multipart data.", "Missing boundary in multipart."): the deepest one."""
    if exc.status_code != 400:
        return None
    from python_multipart.exceptions import FormParserError
    from starlette.formparsers import MultiPartException

    found: BaseException | None = None
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, FormParserError):
            return seen
        if isinstance(seen, MultiPartException) and found is None:
            found = seen
        seen = seen.__cause__ or seen.__context__
    return found


def _upload_fields(request: Request) -> list[str]:
    """The file fields of the route the request was for (the documents upload's `file`)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return []
    return [p.alias for p in route.dependant.body_params if p.field_info.annotation is UploadFile]


def _unreadable_form(request: Request, exc: StarletteHTTPException) -> JSONResponse | None:
    """Why a multipart body could not be read, where Starlette says only "Invalid multipart
    data.": a file name past the parser's header line (a 5,000-character one) named nothing."""
    cause = _form_error(exc)
    if cause is None:
        return None
    if "header size" in str(cause):
        fields = _upload_fields(request)
        field = fields[0] if len(fields) == 1 else "body"
        from python_multipart.multipart import DEFAULT_MAX_HEADER_SIZE as limit

        message = (
            f"the file name is too long: each header line of a form part, the file's name "
            f"with it, must be at most {limit} bytes"
        )
        return problem(422, "Validation failed", message, [{"field": field, "message": message}])
    reason = f"the multipart body cannot be read: {cause}"
    return problem(400, "Malformed form data", reason, [{"field": "body", "message": reason}])


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.cache
def _path_pattern(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _allowed(request: Request) -> str | None:
    """Every method the path has, from the API's schema: each method is its own route, and
    Starlette's 405 names only the first one's."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _path_pattern(template).match(path):
            methods |= {m.upper() for m in operations if m.upper() in _METHODS}
    return ", ".join(sorted(methods)) or None


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    reason = _unreadable_json(exc)
    if reason is not None:
        return problem(
            400,
            "Malformed JSON",
            f"The request body cannot be read as JSON: {reason}",
            [{"field": "body", "message": reason}],
        )
    unreadable = _unreadable_form(request, exc)
    if unreadable is not None:
        return unreadable
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
    return problem(exc.status_code, str(exc.detail), str(exc.detail), None, headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "An unexpected error occurred; it has been logged.")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _request_validation)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _pydantic_validation)  # type: ignore[arg-type]
    app.add_exception_handler(AlmanacError, _almanac)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
