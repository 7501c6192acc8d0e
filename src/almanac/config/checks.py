"""Checks the settings sections share: URLs the client that uses them can open, and numbers
that are finite, so a setting that cannot work stops the start instead of the first request."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A settings section: `inf` or `nan` is no number of seconds, hours or tokens (a
    timedelta of them overflows when first used)."""

    model_config = ConfigDict(allow_inf_nan=False)


def _url(value: str | None, schemes: tuple[str, ...], example: str, host: bool) -> str | None:
    if not value:  # unset (an empty value means unset where it is optional)
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise ValueError(f"not a URL (e.g. {example})") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(
            f"must start with {' or '.join(s + '://' for s in schemes)} (e.g. {example})"
        )
    if host and not parts.hostname:
        raise ValueError(f"names no host (e.g. {example})")
    return value


def _http(value: str | None) -> str | None:
    return _url(value, ("http", "https"), "https://host:port/path", host=True)


def _valkey(value: str | None) -> str | None:
    # The schemes redis-py opens; a socket path (unix://) has no host.
    return _url(value, ("redis", "rediss", "unix"), "redis://localhost:6379/0", host=False)


_POSTGRES = ("postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg")
_POSTGRES_EXAMPLE = "postgresql://user:pass@host:5432/db"


def _postgres(value: str | None) -> str | None:
    # Read as the engine reads it (SQLAlchemy's parser, not urlsplit): a password with `/`,
    # `#`, `?` or `[` in it, as generated ones often have, works there unquoted. A socket
    # directory goes in ?host=, so the host part may be empty.
    if not value:
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        scheme = make_url(value).drivername  # the port is made a number here
    except (ArgumentError, ValueError):
        raise ValueError(f"not a URL (e.g. {_POSTGRES_EXAMPLE})") from None
    if scheme.lower() not in _POSTGRES:
        raise ValueError(
            f"must start with {' or '.join(s + '://' for s in _POSTGRES)} "
            f"(e.g. {_POSTGRES_EXAMPLE})"
        )
    return value


# A calendar user address as iCalendar ATTENDEE lines carry it (RFC 5545 CAL-ADDRESS,
# `mailto:`): one @, no spaces or control characters, within RFC 5321's 254 characters.
_ADDRESS = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f.]+")


def mail_address(value: str) -> str:
    """`value` as a calendar user address compared case-blind, without `mailto:`."""
    text = value.strip().lower().removeprefix("mailto:")
    if len(text) > 254 or not _ADDRESS.fullmatch(text):
        raise ValueError("must be an email address such as ana@example.com")
    return text


HttpUrl = Annotated[str, AfterValidator(_http)]
# One a provider cannot work without.
NeededHttpUrl = Annotated[str, Field(min_length=1), AfterValidator(_http)]
ValkeyUrl = Annotated[str, AfterValidator(_valkey)]
PostgresUrl = Annotated[str, AfterValidator(_postgres)]
MailAddress = Annotated[str, AfterValidator(mail_address)]
