"""API keys and the dashboard's sign-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, CreatedMixin, IdMixin


class ApiKey(IdMixin, CreatedMixin, Base):
    """A key: only its SHA-256 is stored; `prefix` (the key's first characters) finds it."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scope: Mapped[str] = mapped_column(String(10), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column()
    use_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (CheckConstraint("scope IN ('read', 'write', 'admin')", name="scope"),)


class AuthSession(IdMixin, CreatedMixin, Base):
    """A dashboard session opened with a key; the cookie's value is stored only hashed."""

    __tablename__ = "auth_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False
    )
    csrf_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        Index("idx_auth_sessions_key", "key_id"),
        Index("idx_auth_sessions_expires", "expires_at"),
    )
