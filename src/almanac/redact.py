"""Keeping secrets out of answers and logs: credentials in URLs masked, tokens and recall
queries stripped from the access log, known secret values replaced; and which header
carries a key to a URL that holds a login (`key_headers`, shared by every client)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]*@")
# Paths whose query strings carry what a user typed or a token: never logged.
PRIVATE_QUERY_PATHS = (
    "/api/v1/memory/recall",
    "/api/v1/memory/facts",
    "/api/v1/calendar/feed.ics",
    "/oauth/callback",
)


def mask_url(url: str) -> str:
    """`url` with any password in it replaced by ***."""
    return _USERINFO.sub(lambda m: m.group("head") + MASK + "@", url)


def key_headers(key: str | None, url: str) -> dict[str, str]:
    """The headers that carry API `key` to `url`: `Authorization: Bearer`, or `X-API-Key`
    when the URL holds a login (a proxy's), which HTTP clients send as `Authorization:
    Basic`, replacing a Bearer key."""
    if not key:
        return {}
    try:
        parts = urlsplit(url)
        login = parts.username is not None or parts.password is not None
    except ValueError:
        login = False
    return {"X-API-Key": key} if login else {"Authorization": f"Bearer {key}"}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with passwords in URLs masked and each of `secrets` replaced by ***."""
    out = mask_url(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return out


def strip_private_query(path: str) -> str:
    """A request target without its query string when the path is one of the private ones."""
    bare, sep, _ = path.partition("?")
    if sep and bare.startswith(PRIVATE_QUERY_PATHS):
        return bare + "?" + MASK
    return path


class AccessLogFilter(logging.Filter):
    """For uvicorn's access log: recall queries and feed tokens never reach it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], strip_private_query(args[2]), *args[3:])
        return True


class RedactingFilter(logging.Filter):
    """For every handler: URLs with credentials and known secrets are masked in messages."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filters(secrets: Iterable[str | None] = ()) -> None:
    """Add the filters once to uvicorn's loggers and the root handlers; `secrets` are
    masked from then on, also where the filters were already in place."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    given = [s for s in secrets if s]
    redacting = RedactingFilter(given)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "almanac"):
        logger = logging.getLogger(name)
        for target in [logger, *logger.handlers]:
            found = [f for f in target.filters if isinstance(f, RedactingFilter)]
            if not found:
                target.addFilter(redacting)
            # Installed before (another app in this process): its secrets are added, or
            # this app's feed token went to the log in the clear.
            for present in found:
                present.secrets += [s for s in given if s not in present.secrets]
