"""Reflections on a day or week, and the decisions taken on proposed facts."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, CreatedMixin, IdMixin, TimestampsMixin, jsonb_default


class Reflection(IdMixin, TimestampsMixin, Base):
    """The report for one period; reflecting on the same period again replaces it."""

    __tablename__ = "reflections"

    mode: Mapped[str] = mapped_column(String(10), nullable=False)  # daily | weekly
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    narrative: Mapped[str | None] = mapped_column(Text)
    llm: Mapped[dict[str, Any]] = mapped_column(nullable=False, server_default=jsonb_default())
    # The memory event the reflection was remembered as (so later plans recall it).
    event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("mode", "period_start", name="uq_reflections_mode_period_start"),
    )


class FactDecision(IdMixin, CreatedMixin, Base):
    """What happened to one proposed fact: added, duplicate, superseded or rejected."""

    __tablename__ = "fact_decisions"

    event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # llm | metadata | numbers
    proposal: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    decision: Mapped[str] = mapped_column(String(20), nullable=False)
    fact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("facts.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("idx_fact_decisions_event", "event_id"),)
