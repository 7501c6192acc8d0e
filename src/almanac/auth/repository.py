"""SQL over `api_keys` and `auth_sessions` (their one owning repository)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models.auth import ApiKey, AuthSession


async def add_key(
    session: AsyncSession, *, name: str, scope: str, prefix: str, key_hash: str
) -> ApiKey:
    row = ApiKey(name=name, scope=scope, prefix=prefix, key_hash=key_hash)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def key_by_name(session: AsyncSession, name: str) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.name == name))).scalar_one_or_none()


async def key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    """The key with this prefix, revoked or not (the caller decides)."""
    stmt = select(ApiKey).where(ApiKey.prefix == prefix)
    return (await session.execute(stmt)).scalar_one_or_none()


async def prefix_taken(session: AsyncSession, prefix: str) -> bool:
    stmt = select(func.count()).select_from(ApiKey).where(ApiKey.prefix == prefix)
    return bool((await session.execute(stmt)).scalar_one())


async def active_key_exists(session: AsyncSession, scope: str | None = None) -> bool:
    stmt = select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    if scope is not None:
        stmt = stmt.where(ApiKey.scope == scope)
    return bool((await session.execute(stmt)).scalar_one())


async def list_keys(session: AsyncSession, *, include_revoked: bool) -> Sequence[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return (await session.execute(stmt)).scalars().all()


async def revoke_key(session: AsyncSession, key_id: int) -> None:
    """Mark the key revoked and end its dashboard sessions."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=func.now()))
    await session.execute(delete(AuthSession).where(AuthSession.key_id == key_id))


async def add_usage(session: AsyncSession, usage: Mapping[int, tuple[int, datetime]]) -> None:
    """Add request counts and move `last_used_at` forward, one executemany for all keys."""
    if not usage:
        return
    stmt = (
        update(ApiKey.__table__)  # type: ignore[arg-type]
        .where(ApiKey.__table__.c.id == bindparam("kid"))
        .values(
            use_count=ApiKey.__table__.c.use_count + bindparam("n"),
            last_used_at=func.greatest(
                func.coalesce(ApiKey.__table__.c.last_used_at, bindparam("at")), bindparam("at")
            ),
        )
    )
    params = [{"kid": kid, "n": n, "at": at} for kid, (n, at) in sorted(usage.items())]
    await session.execute(stmt, params)


async def add_session(
    session: AsyncSession, *, key_id: int, session_hash: str, csrf_hash: str, expires_at: datetime
) -> AuthSession:
    row = AuthSession(
        key_id=key_id, session_hash=session_hash, csrf_hash=csrf_hash, expires_at=expires_at
    )
    session.add(row)
    await session.flush()
    return row


async def live_session(
    session: AsyncSession, session_hash: str
) -> tuple[AuthSession, ApiKey] | None:
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
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], row[1])


async def delete_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.id == session_id))


async def delete_expired_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(AuthSession).where(AuthSession.expires_at <= func.now()))
    return int(getattr(result, "rowcount", 0) or 0)


async def lock_first_key(session: AsyncSession) -> None:
    """Serialise first-start key creation between processes starting together."""
    from sqlalchemy import text

    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('almanac-first-key'))"))
