"""Keys and sessions: create, verify, list, revoke. Never commits (the caller does)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.auth.principal import (
    Principal,
    Scope,
    hash_secret,
    key_prefix,
    new_key,
    same_hash,
)
from almanac.auth.repository import AuthRepository
from almanac.auth.schemas import KeyCreatedOut, KeyOut
from almanac.db.repository import row_out
from almanac.errors import Conflict, NotFound
from almanac.models.auth import ApiKey, AuthSession

# Checked against a stored hash when no key has the given prefix, so a miss costs the
# same comparison as a near-hit.
_DUMMY_HASH = hash_secret("almanac-no-such-key")


def _out(row: ApiKey) -> KeyOut:
    return row_out(KeyOut, row)


class KeyService:
    """API keys in `api_keys`."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = AuthRepository(session)

    async def create(self, name: str, scope: Scope) -> KeyCreatedOut:
        """A new key; its plain text is returned here and never again."""
        if await self.repo.key_by_name(name) is not None:
            raise Conflict(
                f"a key named {name!r} already exists (revoked keys keep their name)",
                errors=[{"field": "name", "message": "already exists"}],
            )
        while True:
            key = new_key()
            prefix = key_prefix(key)
            assert prefix is not None
            if not await self.repo.prefix_taken(prefix):
                break
        row = await self.repo.add(
            ApiKey(name=name, scope=scope, prefix=prefix, key_hash=hash_secret(key))
        )
        return KeyCreatedOut(**_out(row).model_dump(), key=key)

    async def _row(self, key: str) -> ApiKey | None:
        """The stored key `key` is, revoked or not; None when unknown or wrong."""
        prefix = key_prefix(key)
        row = await self.repo.key_by_prefix(prefix) if prefix else None
        matches = same_hash(hash_secret(key), row.key_hash if row else _DUMMY_HASH)
        return row if matches else None

    async def verify(self, key: str) -> Principal | None:
        """The key's principal, or None when it is unknown, wrong or revoked."""
        row = await self._row(key)
        if row is None or row.revoked_at is not None:
            return None
        return Principal(key_id=row.id, name=row.name, scope=cast(Scope, row.scope))

    async def revoked(self, key: str) -> bool:
        """Whether `key` is a key of this database that was revoked (not merely unknown)."""
        row = await self._row(key)
        return row is not None and row.revoked_at is not None

    async def free_name(self, name: str) -> str:
        """`name`, or `name-2`, `name-3`... when it is taken (revoked keys keep theirs)."""
        taken = {k.name for k in await self.list(include_revoked=True)}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    async def list(self, *, include_revoked: bool = False) -> list[KeyOut]:
        rows = await self.repo.list_keys(include_revoked=include_revoked)
        return [_out(r) for r in rows]

    async def revoke(self, name: str) -> tuple[KeyOut, int]:
        """Revoke a key by name (its dashboard sessions end with it); the key and its id."""
        row = await self.repo.key_by_name(name)
        if row is None or row.revoked_at is not None:
            raise NotFound(f"no active key named {name!r}")
        if row.scope == "admin" and await self.repo.lock_active_admins() == [row.id]:
            # Nobody could manage keys any more, and the CLI on the data folder (which uses
            # that key) was refused everything until a restart made a new one.
            raise Conflict(
                f"key {name!r} is the last active admin key: create another admin key "
                "first (almanac keys create --name NAME --scope admin), then revoke this one",
                errors=[{"field": "name", "message": "the last active admin key"}],
            )
        await self.repo.revoke_key(row.id)
        await self.repo.save(row)
        return _out(row), row.id

    async def any_admin(self) -> bool:
        return await self.repo.active_key_exists("admin")


@dataclass(frozen=True)
class OpenedSession:
    """A new dashboard session: the cookie value and CSRF token, shown once."""

    session_token: str
    csrf_token: str
    principal: Principal
    expires_at: datetime


class SessionService:
    """Dashboard sessions in `auth_sessions`: only hashes of the cookie and CSRF token."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = AuthRepository(session)

    async def open(self, principal: Principal, hours: float) -> OpenedSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(hours=hours)
        await self.repo.delete_expired_sessions()
        row = await self.repo.add(
            AuthSession(
                key_id=principal.key_id,
                session_hash=hash_secret(token),
                csrf_hash=hash_secret(csrf),
                expires_at=expires,
            )
        )
        return OpenedSession(
            token,
            csrf,
            Principal(principal.key_id, principal.name, principal.scope, row.id),
            expires,
        )

    async def resolve(self, token: str) -> tuple[Principal, str] | None:
        """The principal of a live session and its CSRF token hash, or None."""
        found = await self.repo.live_session(hash_secret(token))
        if found is None:
            return None
        sess, key = found
        principal = Principal(key.id, key.name, cast(Scope, key.scope), sess.id)
        return principal, sess.csrf_hash

    async def close(self, session_id: int) -> None:
        await self.repo.delete_by_id(AuthSession, session_id)


async def ensure_admin_key(session: AsyncSession, name: str = "admin") -> KeyCreatedOut | None:
    """Create an admin key when no active one exists (first start); None otherwise."""
    await AuthRepository(session).lock_first_key()
    keys = KeyService(session)
    if await keys.any_admin():
        return None
    return await keys.create(await keys.free_name(name), "admin")
