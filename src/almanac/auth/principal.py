"""Who a request acts for, and the pure key helpers (no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
_RANK: dict[str, int] = {scope: rank for rank, scope in enumerate(SCOPES)}

KEY_MARK = "alm_"
# The first characters after the mark find the row; 8 url-safe characters are 48 bits, so
# a clash between two keys of one installation is negligible (and retried when it happens).
PREFIX_CHARS = 8


@dataclass(frozen=True, slots=True)
class Principal:
    """The key a request is authenticated with (directly, or through a dashboard session)."""

    key_id: int
    name: str
    scope: Scope
    # Set when the request came with the session cookie rather than the key itself.
    session_id: int | None = None


def scope_allows(held: str, needed: str) -> bool:
    """read < write < admin: a scope allows everything the lower ones do."""
    return _RANK.get(held, -1) >= _RANK[needed]


def new_key() -> str:
    """A fresh key: 256 random bits, url-safe, with a recognisable mark."""
    return KEY_MARK + secrets.token_urlsafe(32)


# What `new_key` makes: the mark and url-safe base64. Anything else is no key of ours (and a
# NUL in the prefix reached Postgres from the public sign-in: a 500).
_KEY_SHAPE = re.compile(rf"{KEY_MARK}[A-Za-z0-9_-]{{{PREFIX_CHARS + 16},}}")


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, or None for anything else."""
    if not _KEY_SHAPE.fullmatch(key):
        return None
    return key[: len(KEY_MARK) + PREFIX_CHARS]


def hash_secret(secret: str) -> str:
    """SHA-256 of a key or session id, hex.

    A plain fast hash is right here (no bcrypt/argon2): the secrets are 256 random bits,
    not passwords, so there is nothing to guess by brute force or dictionary, and a slow
    hash would only add latency to every request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison, so timing reveals nothing about a near miss."""
    return hmac.compare_digest(a.encode(), b.encode())
