"""Recall-cache generations shared by every process on one database (migration 0008)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base


class CacheGeneration(Base):
    """A namespace's generation: cached recalls keyed by an older one are never served."""

    __tablename__ = "cache_generations"

    namespace: Mapped[str] = mapped_column(String(300), primary_key=True)
    gen: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
