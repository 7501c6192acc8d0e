"""Browser safety, as one pure ASGI middleware in front of every route.

A page the user visits can make their browser send requests to the local API. This layer
refuses what only such a page would send, before any route runs:

- a `Host` not on the allow-list (400): stops DNS rebinding, where attacker.example
  resolves to 127.0.0.1 and the browser treats the API as the attacker's own origin;
- on state-changing methods, an `Origin` of another origin, or `Sec-Fetch-Site` of
  `cross-site` or `same-site` (403; another port on localhost is "same-site"). `same-origin`
  and `none` (typed URL, bookmark, non-browser tools) pass;
- bodies that are not `application/json` (415), except on the few routes that take a file
  (`BODY_TYPES`): an HTML form or `text/plain` fetch cannot produce JSON without a CORS
  preflight, which stays closed unless `security.cors_origins` opens it;
- bodies over `security.max_body_bytes` (413), counted while streaming, so a large body is
  refused after at most the limit has been read; a route may answer in its own protocol
  instead (`oversized`: /mcp's JSON-RPC error, from the body's first bytes);
- JSON bodies that repeat a key in one object (400 naming it): which value counts would be
  a parser's choice (Python keeps the last, others the first), so neither is taken.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from almanac.config import Settings

UNSAFE_EXEMPT = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes whose body is not JSON: path -> media types accepted (and the size limit used).
DOCUMENTS = "/api/v1/memory/documents"
BODY_TYPES: dict[str, frozenset[str]] = {
    "/api/v1/calendar/import": frozenset({"text/calendar"}),
    DOCUMENTS: frozenset({"multipart/form-data"}),
}
# Room for a multipart body's boundaries and form fields around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# An oversized body's first and last bytes, and the limit, to a route's own answer (None:
# the 413). Reading on to the end is bounded too: past `_DRAINED` times the limit, a 413.
Oversized = Callable[[bytes, bytes, int], ASGIApp | None]
_ENDS = 64 * 1024
_DRAINED = 8


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Loopback names, the configured listening host (unless a wildcard) and the setting."""
    hosts = set(LOOPBACK)
    if settings.server.host not in ("", "0.0.0.0", "::"):
        hosts.add(settings.server.host.lower().strip("[]"))
    hosts.update(h.lower().strip("[]") for h in settings.security.allowed_hosts)
    return frozenset(hosts)


def host_name(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() else host


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> tuple[dict[str, Any], bytes]:
    problem: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    problem["detail"] = detail
    if errors:
        problem["errors"] = errors
    body = json.dumps(problem)
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, body.encode()


async def _send_problem(
    send: Send, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> None:
    start, body = _problem(status, title, detail, errors)
    await send(start)
    await send({"type": "http.response.body", "body": body})


class BrowserSafety:
    """The checks above; settings are read once, when the app is built."""

    def __init__(
        self, app: ASGIApp, settings: Settings, oversized: Mapping[str, Oversized] | None = None
    ) -> None:
        self.app = app
        self.oversized = dict(oversized or {})
        self.hosts = allowed_hosts(settings)
        self.any_host = "*" in self.hosts
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in settings.security.cors_origins)
        self.max_body = settings.security.max_body_bytes
        self.max_document = settings.memory.document_max_bytes + _MULTIPART_OVERHEAD
        self.max_file = settings.security.max_ics_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope["headers"])
        host = headers.get("host", "")
        if not self.any_host and host_name(host) not in self.hosts:
            await _send_problem(
                send,
                400,
                "Host not allowed",
                f"Host {host_name(host)!r} is not served here; add it to "
                "security.allowed_hosts (ALMANAC_SECURITY__ALLOWED_HOSTS) if it is yours",
            )
            return
        method = scope["method"]
        path = scope["path"]
        if method not in UNSAFE_EXEMPT:
            refusal = self._cross_site(headers, host)
            if refusal:
                await _send_problem(send, 403, "Cross-site request refused", refusal)
                return
            refusal = self._body_type(headers, path)
            if refusal:
                await _send_problem(send, 415, "Unsupported media type", refusal)
                return
        if path == DOCUMENTS:
            limit = self.max_document
        else:
            limit = self.max_file if path in BODY_TYPES else self.max_body
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            drained = int(declared) <= _DRAINED * limit  # else not read at all
            if not (drained and await self._own_too_large(scope, receive, send, limit, b"", True)):
                await self._too_large(send, path, limit)
            return
        if method not in UNSAFE_EXEMPT and _is_json(_media_type(headers.get("content-type", ""))):
            checked = await self._unrepeated(scope, receive, send, limit)
            if checked is None:
                return
            receive = checked
        await self._limited(scope, receive, send, limit)

    async def _too_large(self, send: Send, path: str, limit: int) -> None:
        """413; an upload's names its file (the form's other fields cannot fill the room
        left for them)."""
        if path != DOCUMENTS:
            detail = f"the body is larger than {limit} bytes"
            await _send_problem(send, 413, "Payload too large", detail)
            return
        detail = f"the file is larger than {limit - _MULTIPART_OVERHEAD} bytes"
        errors = [{"field": "file", "message": detail}]
        await _send_problem(send, 413, "Payload too large", detail, errors)

    async def _own_too_large(
        self, scope: Scope, receive: Receive, send: Send, limit: int, read: bytes, more: bool
    ) -> bool:
        """Whether the route's own answer to an oversized body (`read` so far; `more`: the
        rest, read here and dropped) was sent."""
        own = self.oversized.get(scope["path"])
        if own is None:
            return False
        ends = await _ends(read, more, receive, _DRAINED * limit)
        answer = None if ends is None else own(ends[0], ends[1], limit)
        if answer is None:
            return False
        await answer(scope, receive, send)
        return True

    async def _unrepeated(
        self, scope: Scope, receive: Receive, send: Send, limit: int
    ) -> Receive | None:
        """Read a JSON body (at most `limit` bytes) and refuse one repeating a key; the
        body is then replayed to the app. None when an answer was sent."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay(message, receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                read, more = b"".join(chunks), message.get("more_body", False)
                if not await self._own_too_large(scope, receive, send, limit, read, more):
                    await _send_problem(
                        send, 413, "Payload too large", f"the body is larger than {limit} bytes"
                    )
                return None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        repeated = _repeated_key(body)
        if repeated is not None:
            start, data = _problem(
                400,
                "Malformed JSON",
                f"The request body repeats the key {repeated!r} in one object: send it once",
                [{"field": repeated, "message": "repeated in one JSON object"}],
            )
            await send(start)
            await send({"type": "http.response.body", "body": data})
            return None
        return _replay({"type": "http.request", "body": body}, receive)

    def _cross_site(self, headers: dict[str, str], host: str) -> str | None:
        origin = headers.get("origin")
        if origin is not None:
            netloc = origin.split("://", 1)[-1].rstrip("/").lower()
            if netloc != host.lower() and origin.rstrip("/").lower() not in self.cors_origins:
                return f"a state-changing request from origin {origin!r} is refused"
        site = headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site") and (
            origin is None or origin.rstrip("/").lower() not in self.cors_origins
        ):
            return f"a state-changing request from another site (Sec-Fetch-Site: {site}) is refused"
        return None

    def _body_type(self, headers: dict[str, str], path: str) -> str | None:
        media = _media_type(headers.get("content-type", ""))
        has_body = headers.get("content-length", "0") not in ("", "0") or (
            "transfer-encoding" in headers
        )
        if not media and not has_body:
            return None  # no body at all (e.g. POST /plans/1/approve from a tool)
        accepted = BODY_TYPES.get(path)
        if accepted is not None:
            if media in accepted:
                return None
            return f"this endpoint takes {', '.join(sorted(accepted))}; got {media or 'none'!r}"
        if _is_json(media):
            return None
        return f"request bodies must be application/json; got {media or 'no Content-Type'!r}"

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, answering 413 as soon as the streamed body passes `limit`."""
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._too_large(send, scope["path"], limit)
                    # The app sees the client go away and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the app answers is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _ends(read: bytes, more: bool, receive: Receive, most: int) -> tuple[bytes, bytes] | None:
    """The body's first and last `_ENDS` bytes, reading on from `read` (`more`: it is not
    all) and keeping nothing else; None when it passes `most` bytes or the client goes."""
    first, last, size = read[:_ENDS], read[-_ENDS:], len(read)
    if size > most:
        return None
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > most:
            return None
        if len(first) < _ENDS:
            first += chunk[: _ENDS - len(first)]
        last = (last + chunk)[-_ENDS:]
        more = message.get("more_body", False)
    return first, last


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C: the per-key loop below runs only when a key repeats
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return out


def _repeated_key(body: bytes) -> str | None:
    """The first key a JSON body repeats within one object; None when none is (or when
    it is not JSON at all: the route's own parsing answers that)."""
    try:
        json.loads(body, object_pairs_hook=_no_repeats)
    except _Repeated as e:
        return e.key[:100]
    except (ValueError, RecursionError):
        return None
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that hands the app `first` (the body already read), then whatever the
    client sends next (a disconnect that streamed answers listen for)."""
    pending = [first]

    async def receive_again() -> Message:
        return pending.pop() if pending else await receive()

    return receive_again


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        # Repeated headers: keep the first, as Starlette's `Headers.get` does.
        out.setdefault(key, value.decode("latin-1"))
    return out
