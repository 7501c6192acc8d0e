"""TEST DOUBLE: a stand-in for Google Calendar v3 and Google's OAuth token endpoint.

Not Google: a small in-memory imitation, used only by tests, of the wire protocol the real
client libraries (google-api-python-client, google-auth, google-auth-oauthlib) speak:

- `GET/POST /calendar/v3/calendars/{id}/events`, `GET/PATCH/DELETE .../events/{eventId}`
  (`If-Match` answered with 412 on a stale ETag; deleted events become `cancelled`, which
  `GET` still returns and which keep their id: an insert naming a taken id, deleted or
  not, answers 409 `duplicate`, one naming an id outside base32hex/5-1024 answers 400);
- `POST /calendar/v3/freeBusy`;
- `POST /batch/calendar/v3`, the multipart/mixed batch endpoint (each part goes through the
  same routes as a single request);
- `POST /token` with the `authorization_code` (PKCE S256 checked when the code was issued
  with a challenge) and `refresh_token` grants.

Tests script it: `fail(status, reason, times, match)` queues error answers (429, 403
`rateLimitExceeded`, 500, ...), `revoke(refresh_token)` makes refreshes answer
`invalid_grant`, `grant()` issues a token pair without a consent, `issue_code()` registers an
authorization code, `delay(seconds, match, times)` holds the next matching requests before
they are carried out (a client that stops waiting does not stop them, as at Google). Every
request (batch parts too) is recorded in `requests`. It listens on 127.0.0.1 at an ephemeral
port in a background thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.parser import BytesParser, Parser
from typing import Any
from zoneinfo import ZoneInfo

from tests.doubles.loopback import JSONHandler, Loopback

CLIENT_ID = "almanac-test-client.apps.example"
CLIENT_SECRET = "almanac-test-secret"
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

Answer = tuple[int, dict[str, Any] | None]
# The longest a request held by `FakeGoogle.hold` waits for its release.
HOLD_LIMIT = 60.0
_VALID_ID = re.compile(r"[a-v0-9]{5,1024}")  # client-chosen event ids: base32hex


@dataclass
class Fault:
    """A scripted error for the next request whose "METHOD /path" starts with `match`.

    An empty `match` hits the next API call (a single request or a batch part), never the
    batch envelope or the token endpoint.
    """

    status: int
    reason: str | None = None
    match: str = ""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    in_batch: bool = False


def _google_error(status: int, reason: str | None, message: str | None = None) -> dict[str, Any]:
    text = message or _REASONS.get(status, "error")
    errors = [{"domain": "global", "reason": reason or "backendError", "message": text}]
    return {"error": {"code": status, "message": text, "errors": errors}}


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    # PATCH semantics of Google APIs: objects merge, everything else is replaced.
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@dataclass
class FakeGoogle:
    """Start with `start()` or as a context manager; `root_url` ends in "/"."""

    time_zone: str = "Europe/Berlin"
    calendars: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    codes: dict[str, str | None] = field(default_factory=dict)  # code -> PKCE challenge
    faults: list[Fault] = field(default_factory=list)
    # What a consent grants (Google's granular consent lets the user untick a scope).
    granted_scopes: tuple[str, ...] = SCOPES
    # A raw (status, HTML) answer of the token endpoint instead of its JSON: a proxy's page.
    token_page: tuple[int, str] | None = None
    # Seconds every request whose "METHOD /path" starts with `slow_match` waits before it is
    # answered (the token endpoint never): a hung or slow Google.
    slow_seconds: float = 0.0
    slow_match: str = ""
    # (match, seconds or an event to wait for), once each: see `delay` and `hold`.
    delays: list[tuple[str, float | threading.Event]] = field(default_factory=list)
    # "METHOD /path" of every request as it arrives, before any delay (`requests` records
    # them once answered): what a client started, also while it is still waiting.
    arrived: list[str] = field(default_factory=list)
    _etag: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _holds: list[threading.Event] = field(default_factory=list)
    _loopback: Loopback | None = None

    # -- scripting ------------------------------------------------------------------------

    def fail(
        self, status: int, reason: str | None = None, *, times: int = 1, match: str = ""
    ) -> None:
        """Answer the next `times` matching requests with `status` (and a Google error body)."""
        with self._lock:
            self.faults.extend(Fault(status, reason, match) for _ in range(times))

    def delay(self, seconds: float, match: str, *, times: int = 1) -> None:
        """Hold the next `times` requests whose "METHOD /path" starts with `match`."""
        with self._lock:
            self.delays.extend((match, seconds) for _ in range(times))

    def hold(self, match: str) -> threading.Event:
        """Hold the next request whose "METHOD /path" starts with `match` until the event
        returned is set (a Google that answers only after what the test does meanwhile,
        whatever the machine's speed); at most `HOLD_LIMIT` seconds, should a test fail
        before setting it."""
        release = threading.Event()
        with self._lock:
            self.delays.append((match, release))
            self._holds.append(release)
        return release

    def _take_delay(self, key: str) -> float | threading.Event:
        with self._lock:
            for i, (match, seconds) in enumerate(self.delays):
                if key.startswith(match):
                    del self.delays[i]
                    return seconds
        return 0.0

    def grant(self) -> tuple[str, str]:
        """A fresh (access token, refresh token) pair, as a consent would yield."""
        with self._lock:
            access, refresh = "ya29." + secrets.token_urlsafe(12), "1//" + secrets.token_urlsafe(12)
            self.access_tokens.add(access)
            self.refresh_tokens.add(refresh)
            return access, refresh

    def issue_code(self, code: str = "test-auth-code", challenge: str | None = None) -> str:
        """Register an authorization code the token endpoint will accept once."""
        with self._lock:
            self.codes[code] = challenge
            return code

    def revoke(self, refresh_token: str) -> None:
        """The user removed access: refreshing with this token answers invalid_grant."""
        with self._lock:
            self.revoked.add(refresh_token)
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Every access token now answers 401, as after its hour ran out."""
        with self._lock:
            self.access_tokens.clear()

    def add_event(self, calendar_id: str = "primary", **fields: Any) -> dict[str, Any]:
        """An event made by someone else (the user), stored as given plus server fields."""
        with self._lock:
            return self._insert(calendar_id, fields)

    def live_events(self, calendar_id: str = "primary") -> list[dict[str, Any]]:
        with self._lock:
            items = self.calendars.get(calendar_id, {}).values()
            return [dict(e) for e in items if e.get("status") != "cancelled"]

    def api_requests(self, method: str | None = None, path_part: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and path_part in r.path
        ]

    # -- server ---------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        assert self._loopback is not None, "server not started"
        return self._loopback.base_url.removesuffix("v1")

    @property
    def token_uri(self) -> str:
        return self.root_url + "token"

    def start(self) -> FakeGoogle:
        double = self

        class Handler(JSONHandler):
            def _raw(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _dispatch(self) -> None:
                data = self._body()
                parsed = urllib.parse.urlsplit(self.path)
                key = f"{self.command} {parsed.path}"
                with double._lock:
                    double.arrived.append(key)
                if double.slow_seconds and parsed.path != "/token":
                    if key.startswith(double.slow_match):
                        threading.Event().wait(double.slow_seconds)
                if parsed.path != "/token":
                    delay = double._take_delay(key)
                    if isinstance(delay, threading.Event):
                        delay.wait(HOLD_LIMIT)
                    else:
                        threading.Event().wait(delay)
                if parsed.path == "/token" and double.token_page is not None:
                    status, page = double.token_page
                    self._raw(status, "text/html", page.encode())
                    return
                if parsed.path == "/token":
                    status, payload = double._token(self.headers.get("Authorization"), data)
                    self._send(status, payload or {})
                    return
                if parsed.path == "/batch/calendar/v3":
                    ctype = self.headers.get("Content-Type", "")
                    status, ctype, out = double._batch(
                        self.headers.get("Authorization"), ctype, data
                    )
                    self._raw(status, ctype, out)
                    return
                status, payload = double._api(
                    self.command,
                    parsed.path,
                    parsed.query,
                    dict(self.headers.items()),
                    data,
                    in_batch=False,
                )
                if payload is None:
                    self._raw(status, "application/json", b"")
                else:
                    self._send(status, payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

        self._loopback = Loopback(Handler, "fake-google-calendar")
        return self

    def stop(self) -> None:
        for release in self._holds:  # a test that failed before releasing: no wait
            release.set()
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- OAuth token endpoint -------------------------------------------------------------

    def _token(self, authorization: str | None, data: bytes) -> Answer:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(data.decode()).items()}
        with self._lock:
            self.token_requests.append(form)
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if authorization and authorization.startswith("Basic "):
                raw = base64.b64decode(authorization[6:]).decode()
                client_id, _, secret = (urllib.parse.unquote(p) for p in raw.partition(":"))
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
            grant = form.get("grant_type")
            if grant == "authorization_code":
                code = form.get("code", "")
                if code not in self.codes:
                    return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
                challenge = self.codes.pop(code)
                if challenge is not None:
                    digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                        return 400, {"error": "invalid_grant", "error_description": "PKCE"}
                access, refresh = self.grant()
                return 200, {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 3599,
                    "scope": " ".join(self.granted_scopes),
                    "token_type": "Bearer",
                }
            if grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if refresh in self.revoked or refresh not in self.refresh_tokens:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    }
                access = "ya29." + secrets.token_urlsafe(12)
                self.access_tokens.add(access)
                return 200, {
                    "access_token": access,
                    "expires_in": 3599,
                    "scope": " ".join(SCOPES),
                    "token_type": "Bearer",
                }
            return 400, {"error": "unsupported_grant_type"}

    # -- batch ----------------------------------------------------------------------------

    def _batch(self, authorization: str | None, ctype: str, data: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests.append(Recorded("POST", "/batch/calendar/v3", {}, None))
            fault = self._take_fault("POST /batch/calendar/v3", envelope=True)
        if fault is not None:
            body = json.dumps(_google_error(fault.status, fault.reason)).encode()
            return fault.status, "application/json", body
        if not self._authorized(authorization):
            return 401, "application/json", json.dumps(_google_error(401, "authError")).encode()
        message = BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + data)
        boundary = "batch_" + secrets.token_hex(8)
        out: list[str] = []
        parts: list[Any] = list(message.get_payload())
        for part in parts:
            inner = str(part.get_payload())
            request_line, _, rest = inner.partition("\n")
            method, target, _ = request_line.strip().split(" ", 2)
            sub = Parser().parsestr(rest)
            body = str(sub.get_payload() or "").encode()
            parsed = urllib.parse.urlsplit(target)
            status, payload = self._api(
                method, parsed.path, parsed.query, dict(sub.items()), body, in_batch=True
            )
            text = "" if payload is None else json.dumps(payload)
            content_id = str(part["Content-ID"]).strip()
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{content_id[1:-1]}>\r\n\r\n"
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                f"Content-Type: application/json; charset=UTF-8\r\n"
                f"Content-Length: {len(text.encode())}\r\n\r\n{text}\r\n"
            )
        out.append(f"--{boundary}--\r\n")
        return 200, f"multipart/mixed; boundary={boundary}", "".join(out).encode()

    # -- Calendar v3 ----------------------------------------------------------------------

    def _take_fault(self, key: str, envelope: bool) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if (fault.match and key.startswith(fault.match)) or (not fault.match and not envelope):
                return self.faults.pop(i)
        return None

    def _authorized(self, authorization: str | None) -> bool:
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            return token in self.access_tokens

    def _api(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        data: bytes,
        *,
        in_batch: bool,
    ) -> Answer:
        qs = urllib.parse.parse_qs(query)
        body = json.loads(data) if data.strip() else None
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append(Recorded(method, path, qs, body, in_batch))
            fault = self._take_fault(f"{method} {path}", envelope=False)
            if fault is not None:
                return fault.status, _google_error(fault.status, fault.reason)
            if not self._authorized(lower.get("authorization")):
                return 401, _google_error(401, "authError", "Invalid Credentials")
            parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
            if parts == ["calendar", "v3", "freeBusy"] and method == "POST":
                return 200, self._freebusy(body or {})
            if len(parts) < 5 or parts[:3] != ["calendar", "v3", "calendars"]:
                return 404, _google_error(404, "notFound")
            if parts[4] != "events":
                return 404, _google_error(404, "notFound")
            calendar_id = parts[3]
            if len(parts) == 5 and method == "GET":
                return 200, self._list(calendar_id, qs)
            if len(parts) == 5 and method == "POST":
                if not body or "start" not in body or "end" not in body:
                    return 400, _google_error(400, "required", "Missing start or end")
                if "id" in body and not _VALID_ID.fullmatch(str(body["id"])):
                    return 400, _google_error(400, "invalid", "Invalid resource id value.")
                if body.get("id") in self.calendars.get(calendar_id, {}):
                    # Deleted events keep their id too (Google's own answer).
                    text = "The requested identifier already exists."
                    return 409, _google_error(409, "duplicate", text)
                return 200, self._insert(calendar_id, body)
            if len(parts) != 6:
                return 404, _google_error(404, "notFound")
            event = self.calendars.get(calendar_id, {}).get(parts[5])
            if event is None:
                return 404, _google_error(404, "notFound")
            if method == "GET":  # deleted events too, as `cancelled` (Google: "always")
                return 200, dict(event)
            if event["status"] == "cancelled":
                return 410, _google_error(410, "deleted", "Resource has been deleted")
            if_match = lower.get("if-match")
            if if_match and if_match != event["etag"]:
                return 412, _google_error(412, "conditionNotMet", "Precondition Failed")
            if method in ("PATCH", "PUT"):
                _merge(event, body or {})
                self._touch(event)
                return 200, dict(event)
            if method == "DELETE":
                event["status"] = "cancelled"
                self._touch(event)
                return 204, None
            return 404, _google_error(404, "notFound")

    def _touch(self, event: dict[str, Any]) -> None:
        self._etag += 1
        event["etag"] = f'"{self._etag}"'
        event["updated"] = datetime.now(UTC).isoformat()

    def _insert(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        event = json.loads(json.dumps(body))
        event_id = event.get("id") or secrets.token_hex(13)
        event.update(id=event_id, kind="calendar#event", status="confirmed")
        event.setdefault("iCalUID", f"{event_id}@google.com")
        event["created"] = datetime.now(UTC).isoformat()
        self._touch(event)
        self.calendars.setdefault(calendar_id, {})[event_id] = event
        return dict(event)

    def _instant(self, value: dict[str, Any]) -> datetime:
        if "date" in value:
            day = date.fromisoformat(value["date"])
            return datetime.combine(day, time(0), tzinfo=ZoneInfo(self.time_zone))
        moment = datetime.fromisoformat(value["dateTime"])
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(value["timeZone"]))

    def _window(self, events: list[dict[str, Any]], lo: datetime, hi: datetime) -> list[Any]:
        found = []
        for e in events:
            if e.get("status") == "cancelled":
                continue
            start, end = self._instant(e["start"]), self._instant(e["end"])
            if start < hi and end > lo:
                found.append((start, end, e))
        found.sort(key=lambda t: t[0])
        return found

    def _list(self, calendar_id: str, qs: dict[str, list[str]]) -> dict[str, Any]:
        lo = datetime.fromisoformat(qs.get("timeMin", ["1970-01-01T00:00:00Z"])[0])
        hi = datetime.fromisoformat(qs.get("timeMax", ["2999-01-01T00:00:00Z"])[0])
        items = [
            e
            for _, _, e in self._window(list(self.calendars.get(calendar_id, {}).values()), lo, hi)
        ]
        size = int(qs.get("maxResults", ["250"])[0])
        offset = int(qs.get("pageToken", ["0"])[0])
        page: dict[str, Any] = {
            "kind": "calendar#events",
            "timeZone": self.time_zone,
            "items": [dict(e) for e in items[offset : offset + size]],
        }
        if offset + size < len(items):
            page["nextPageToken"] = str(offset + size)
        return page

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        lo, hi = datetime.fromisoformat(body["timeMin"]), datetime.fromisoformat(body["timeMax"])
        answer: dict[str, Any] = {}
        for item in body.get("items", []):
            events = list(self.calendars.get(item["id"], {}).values())
            busy = [
                {
                    "start": max(s, lo).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": min(e, hi).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for s, e, ev in self._window(events, lo, hi)
                if ev.get("transparency") != "transparent"
                # Google's free/busy leaves out invitations the owner declined.
                and not any(
                    a.get("self") and a.get("responseStatus") == "declined"
                    for a in ev.get("attendees") or []
                )
            ]
            answer[item["id"]] = {"busy": busy}
        return {
            "kind": "calendar#freeBusy",
            "timeMin": body["timeMin"],
            "timeMax": body["timeMax"],
            "calendars": answer,
        }


def hour(day: date, h: int, minutes: int = 0, tz: str = "UTC") -> dict[str, str]:
    """A Google `start`/`end` field at `h:minutes` of `day` in `tz`, for user events."""
    moment = datetime.combine(day, time(h, minutes), tzinfo=ZoneInfo(tz))
    return {"dateTime": moment.isoformat(), "timeZone": tz}
