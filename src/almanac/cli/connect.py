"""How a CLI command reaches the API, importing only the standard library on the fast path.

Order: `--url`, then `ALMANAC_URL`, then the server recorded in the data folder
(`almanac.discovery`); only when none runs does the command run the app in-process. A
recorded server whose process is alive but does not answer is an error, never a reason
to write to the database behind its back.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import typer

from almanac.discovery import ServerRecord, find_record
from almanac.http_problems import decode_problem
from almanac.redact import key_headers, mask_url

_DOTENV: dict[str, str] | None = None


def setting(name: str) -> str | None:
    """An `ALMANAC_*` value from the environment or `./.env`, as `Settings` reads them."""
    if name in os.environ:
        return os.environ[name]
    global _DOTENV
    if _DOTENV is None:
        _DOTENV = {}
        try:
            lines = Path(".env").read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for line in lines:
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and not key.startswith("#"):
                _DOTENV[key.strip()] = value.strip().strip("'\"")
    return _DOTENV.get(name)


def data_dir() -> Path:
    """The data folder, resolved like `Settings.data_dir` without importing pydantic."""
    configured = setting("ALMANAC_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("almanac"))


# What an HTTP header can carry. A key outside it (a pasted line break, an accented
# letter) failed inside the HTTP library: a traceback, or an error quoting the key itself.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def api_key() -> str | None:
    """`ALMANAC_API_KEY`, else the admin key the first `almanac serve` wrote."""
    key, source = (setting("ALMANAC_API_KEY") or "").strip(), "ALMANAC_API_KEY"
    if not key:
        source = str(data_dir() / "api-key")
        try:
            key = (data_dir() / "api-key").read_text(encoding="utf-8").strip()
        except OSError:
            return None
    if key and not _HEADER_SAFE.fullmatch(key):
        message = (
            f"the API key in {source} holds spaces, control or non-ASCII characters, which "
            "no key has (the key is not shown); set it again"
        )
        raise fail(message, 2)
    return key or None


def invalid_key_hint() -> str:
    """How to go on when the server says the key the CLI sent is not valid: where that key
    came from, and (for the data folder's) how to make another without a valid one."""
    if (setting("ALMANAC_API_KEY") or "").strip():
        return "; the key sent is ALMANAC_API_KEY's: set it to a valid key"
    where = data_dir() / "api-key"
    if not where.exists():
        return ""
    return (
        f"; the key sent is the one in {where}: if it was revoked, stop the server, run "
        "`almanac keys create --name NAME --scope admin` (with no server running the CLI "
        f"opens the database itself and needs no key), and put the key it prints in {where}"
    )


def checked_url(value: str, source: str = "--url") -> str:
    """`value` as a base URL (scheme http or https and a host), else exit code 2."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError as exc:
        raise fail(f"{source}: not a URL ({exc})", 2) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = mask_url(value)
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        raise fail(f"{source}: {shown!r} is not an http(s) URL, e.g. http://127.0.0.1:8090", 2)
    return value.rstrip("/")


class NotAnswering(Exception):
    """A server is recorded for this data folder and alive, but does not answer."""


def target(
    url: str | None, service: str, folder: Path | None = None
) -> tuple[str | None, ServerRecord | None]:
    """The base URL to call and the record it came from; (None, None) means in-process."""
    explicit = url or setting("ALMANAC_URL")
    if explicit:
        return checked_url(explicit, "--url" if url else "ALMANAC_URL"), None
    record = find_record(folder or data_dir(), service)
    if record is None:
        return None, None
    if not record.alive():  # a server that crashed left its record behind
        return None, None
    return record.url, record


def not_answering_message(base: str, record: ServerRecord | None, reason: object) -> str:
    base = mask_url(base)
    if record is None:
        return f"cannot reach {base}: {reason}"
    return (
        f"the server recorded in {record.path} (pid {record.pid}, {base}) is running but "
        f"does not answer ({reason}); nothing was written. Wait for it, stop it, or pass --url."
    )


def request(
    base: str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
    timeout: float = 120.0,
) -> tuple[int, Any]:
    """One HTTP request with the standard library: (status, decoded JSON body or text)."""
    parts = urlsplit(base)
    conn: http.client.HTTPConnection
    # The host alone: a login in the URL (a proxy's) is no part of it; it goes as Basic.
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    query = {k: v for k, v in (params or {}).items() if v is not None}
    full = parts.path.rstrip("/") + path + (f"?{urlencode(query, doseq=True)}" if query else "")
    headers = {"Accept": "application/json", **key_headers(api_key(), base)}
    if parts.username is not None or parts.password is not None:
        login = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, full, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    text = raw.decode("utf-8", "replace")
    try:
        return response.status, json.loads(text) if text else None
    except ValueError:
        return response.status, text


def problem_text(body: Any, status: int, names: Mapping[str, str] | None = None) -> str:
    """A problem+json body as one line naming each field (by the command's option names
    in `names`, where the API's differ)."""
    return decode_problem(status, body).named(names or {}).message()


def fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)
