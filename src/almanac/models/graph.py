"""A small entity graph kept in Postgres (design decision 4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from almanac.models.base import Base, CreatedMixin, IdMixin, TimestampsMixin, jsonb_default


class GraphNode(IdMixin, TimestampsMixin, Base):
    """An entity: person, org, project, doc, decision."""

    __tablename__ = "graph_nodes"

    node_type: Mapped[str] = mapped_column(String(50), nullable=False)
    node_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    properties: Mapped[dict[str, Any]] = mapped_column(
        nullable=False, server_default=jsonb_default()
    )

    __table_args__ = (
        Index("idx_graph_nodes_type", "node_type"),
        # Entity node ids by bytes, for name prefixes (memory.entity_links.alias_sql).
        Index(
            "idx_graph_nodes_entity_prefix",
            "node_id",
            postgresql_ops={"node_id": "varchar_pattern_ops"},
            postgresql_where=text("node_type = 'entity'"),
        ),
    )


class GraphEdge(IdMixin, CreatedMixin, Base):
    """A typed relation between two nodes."""

    __tablename__ = "graph_edges"

    from_node_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("graph_nodes.node_id", ondelete="CASCADE"), nullable=False
    )
    to_node_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("graph_nodes.node_id", ondelete="CASCADE"), nullable=False
    )
    edge_type: Mapped[str] = mapped_column(String(50), nullable=False)
    properties: Mapped[dict[str, Any]] = mapped_column(
        nullable=False, server_default=jsonb_default()
    )

    __table_args__ = (
        UniqueConstraint("from_node_id", "to_node_id", "edge_type", name="uq_graph_edges_triple"),
        Index("idx_graph_edges_from", "from_node_id"),
        Index("idx_graph_edges_to", "to_node_id"),
    )


class MemoryEntity(Base):
    """A memory (event) linked to an entity node it names (memory.entities): who said it
    (`speaker`) or who or what it mentions (`mention`); or to its client's `client:<id>`
    node (`subject`)."""

    __tablename__ = "memory_entities"

    node_id: Mapped[str] = mapped_column(
        String(255),
        ForeignKey("graph_nodes.node_id", ondelete="CASCADE"),
        primary_key=True,
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)

    __table_args__ = (Index("idx_memory_entities_event", "event_id"),)
