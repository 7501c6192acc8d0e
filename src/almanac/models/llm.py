"""One row per LLM call: what it cost and how it ended."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, CreatedMixin, IdMixin


class LLMCall(IdMixin, CreatedMixin, Base):
    """A recorded `complete_json` call (usage per operation, the daily planning cap)."""

    __tablename__ = "llm_calls"

    operation: Mapped[str] = mapped_column(String(50), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    prompt_template: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(20))
    tokens_in: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    tokens_out: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    cost: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        Index("idx_llm_calls_operation_created", "operation", text("created_at DESC")),
    )
