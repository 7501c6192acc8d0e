"""The built-in calendar's events and the OAuth credentials of remote calendars."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, IdMixin, MetadataMixin, TimestampsMixin


class CalendarEntry(IdMixin, TimestampsMixin, MetadataMixin, Base):
    """An event of the built-in calendar (served as an .ics feed).

    `almanac_id` is set on the blocks Almanac placed; events without it are the user's and
    are never changed by scheduling.
    """

    __tablename__ = "calendar_entries"

    uid: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    start_at: Mapped[datetime] = mapped_column(nullable=False)
    end_at: Mapped[datetime] = mapped_column(nullable=False)
    all_day: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    busy: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    almanac_id: Mapped[str | None] = mapped_column(String(255))
    # iCalendar SEQUENCE: bumped on every change so subscribed apps take the new version.
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        Index("idx_calendar_entries_window", "start_at", "end_at"),
        Index(
            "idx_calendar_entries_almanac",
            "almanac_id",
            postgresql_where=text("almanac_id IS NOT NULL"),
        ),
    )


class OAuthCredential(IdMixin, TimestampsMixin, Base):
    """An OAuth token set for a remote calendar, encrypted at rest (Fernet)."""

    __tablename__ = "oauth_credentials"

    provider: Mapped[str] = mapped_column(String(50), nullable=False)
    account: Mapped[str] = mapped_column(String(255), nullable=False, server_default="default")
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    scopes: Mapped[list[Any]] = mapped_column(nullable=False, server_default=text("'[]'::jsonb"))
    expires_at: Mapped[datetime | None] = mapped_column()
    # ok | revoked | expired | error: shown by /health and the calendar's answers.
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="ok")
    status_detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("provider", "account", name="uq_oauth_credentials_provider_account"),
    )
