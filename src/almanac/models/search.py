"""BM25 statistics, maintained by triggers on events and facts (migration 0002)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base


class SearchTerm(Base):
    """How many documents of a kind contain a lexeme."""

    __tablename__ = "search_terms"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    df: Mapped[int] = mapped_column(BigInteger, nullable=False)


class SearchStat(Base):
    """Document count and total length (in lexemes) per kind, for BM25's average length."""

    __tablename__ = "search_stats"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    docs: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_len: Mapped[int] = mapped_column(BigInteger, nullable=False)
