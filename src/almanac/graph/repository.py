"""All SQL on `graph_nodes` and `graph_edges` (read-only: triggers write them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

_IMPACT_SQL = """
WITH RECURSIVE down(node_id, depth) AS (
    SELECT CAST(:start AS varchar), 0
    UNION
    SELECT e.to_node_id, d.depth + 1
    FROM graph_edges e JOIN down d ON e.from_node_id = d.node_id
    WHERE d.depth < :max_depth
)
SELECT n.node_id, n.node_type, n.properties, min(d.depth) AS depth
FROM down d JOIN graph_nodes n ON n.node_id = d.node_id
WHERE d.node_id <> :start
GROUP BY n.node_id, n.node_type, n.properties
ORDER BY min(d.depth), n.node_id
LIMIT :limit
"""


class GraphRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def nodes(self, ids: Sequence[str]) -> dict[str, Row[Any]]:
        if not ids:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT node_id, node_type, properties FROM graph_nodes "
                "WHERE node_id = ANY(CAST(:ids AS varchar[]))"
            ),
            {"ids": list(ids)},
        )
        return {r.node_id: r for r in rows}

    async def edges_of(
        self, ids: Sequence[str], direction: str, edge_type: str | None, limit: int
    ) -> list[Row[Any]]:
        """Edges touching `ids` (outgoing, incoming or both), at most `limit`."""
        clauses = []
        if direction in ("out", "both"):
            clauses.append("from_node_id = ANY(CAST(:ids AS varchar[]))")
        if direction in ("in", "both"):
            clauses.append("to_node_id = ANY(CAST(:ids AS varchar[]))")
        where = "(" + " OR ".join(clauses) + ")"
        params: dict[str, Any] = {"ids": list(ids), "limit": limit}
        if edge_type is not None:
            where += " AND edge_type = :edge_type"
            params["edge_type"] = edge_type
        rows = await self.session.execute(
            text(
                f"SELECT from_node_id, to_node_id, edge_type FROM graph_edges WHERE {where} "
                "ORDER BY id LIMIT :limit"
            ),
            params,
        )
        return list(rows)

    async def downstream(self, start: str, max_depth: int, limit: int) -> list[Row[Any]]:
        """Every node reachable along outgoing edges within `max_depth`, nearest first."""
        rows = await self.session.execute(
            text(_IMPACT_SQL), {"start": start, "max_depth": max_depth, "limit": limit}
        )
        return list(rows)
