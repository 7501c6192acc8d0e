"""One row per LLM call: what it cost and how it ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, CreatedMixin, IdMixin, UpdatedMixin


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
    # Whether any request got an answer from the model (the daily cap counts only those).
    reached_model: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Why an answer that fit the schema was rejected (to compare prompt versions).
    rejection: Mapped[list[Any] | None] = mapped_column()
    output_mode: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("idx_llm_calls_operation_created", "operation", text("created_at DESC")),
    )


class LLMOperationSetting(UpdatedMixin, Base):
    """A model, temperature or token limit chosen at run time for one operation (the
    dashboard's "Prompts and models"); a missing column means "as configured"."""

    __tablename__ = "llm_operation_settings"

    operation: Mapped[str] = mapped_column(String(50), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(200))
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(
            "temperature IS NULL OR (temperature >= 0 AND temperature <= 2)", name="temperature"
        ),
        CheckConstraint(
            "max_tokens IS NULL OR (max_tokens >= 1 AND max_tokens <= 32768)", name="max_tokens"
        ),
    )


class JobReason(UpdatedMixin, Base):
    """Why a job is waiting or failed (e.g. fact extraction waiting for the LLM)."""

    __tablename__ = "job_reasons"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
