"""SQL over `api_keys` and `auth_sessions` (their one owning repository)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from almanac.db.repository import Repository
from almanac.models.auth import ApiKey, AuthSession


class AuthRepository(Repository):
    """Keys and dashboard sessions; rows are added and removed through the base."""

    async def key_by_name(self, name: str) -> ApiKey | None:
        return await self.first(select(ApiKey).where(ApiKey.name == name))

    async def key_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with this prefix, revoked or not (the caller decides)."""
        return await self.first(select(ApiKey).where(ApiKey.prefix == prefix))

    async def prefix_taken(self, prefix: str) -> bool:
        return await self.key_by_prefix(prefix) is not None

    async def active_key_exists(self, scope: str | None = None) -> bool:
        stmt = select(ApiKey.id).where(ApiKey.revoked_at.is_(None))
        if scope is not None:
            stmt = stmt.where(ApiKey.scope == scope)
        return await self.first(stmt) is not None

    async def lock_active_admins(self) -> list[int]:
        """The ids of the active admin keys, row-locked (in id order, so two revocations
        wait for each other rather than both finding the other's key still active)."""
        stmt = (
            select(ApiKey.id)
            .where(ApiKey.revoked_at.is_(None), ApiKey.scope == "admin")
            .order_by(ApiKey.id)
            .with_for_update()
        )
        return list((await self.session.scalars(stmt)).all())

    async def list_keys(self, *, include_revoked: bool) -> Sequence[ApiKey]:
        stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if not include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        return (await self.session.scalars(stmt)).all()

    async def revoke_key(self, key_id: int) -> None:
        """Mark the key revoked and end its dashboard sessions."""
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=func.now())
        )
        await self.delete_where(AuthSession, AuthSession.key_id == key_id)

    async def add_usage(self, usage: Mapping[int, tuple[int, datetime]]) -> None:
        """Add request counts and move `last_used_at` forward, one executemany for all keys."""
        if not usage:
            return
        stmt = (
            update(ApiKey.__table__)  # type: ignore[arg-type]
            .where(ApiKey.__table__.c.id == bindparam("kid"))
            .values(
                use_count=ApiKey.__table__.c.use_count + bindparam("n"),
                last_used_at=func.greatest(
                    func.coalesce(ApiKey.__table__.c.last_used_at, bindparam("at")),
                    bindparam("at"),
                ),
            )
        )
        params = [{"kid": kid, "n": n, "at": at} for kid, (n, at) in sorted(usage.items())]
        await self.session.execute(stmt, params)

    async def live_session(self, session_hash: str) -> tuple[AuthSession, ApiKey] | None:
        """An unexpired session of a key that is not revoked, with that key."""
        stmt = (
            select(AuthSession, ApiKey)
            .join(ApiKey, ApiKey.id == AuthSession.key_id)
            .where(
                AuthSession.session_hash == session_hash,
                AuthSession.expires_at > func.now(),
                ApiKey.revoked_at.is_(None),
            )
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def delete_expired_sessions(self) -> int:
        return await self.delete_where(AuthSession, AuthSession.expires_at <= func.now())

    async def lock_first_key(self) -> None:
        """Serialise first-start key creation between processes starting together."""
        await self.lock("almanac-first-key")
