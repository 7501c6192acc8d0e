"""Neighbours, shortest paths and impact, bounded in depth and in the nodes they visit."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Row

from almanac.db.uow import UnitOfWork
from almanac.errors import NotFound
from almanac.graph.repository import GraphRepository
from almanac.graph.schemas import (
    Direction,
    EdgeOut,
    ImpactItem,
    ImpactOut,
    NeighborOut,
    NeighborsOut,
    NodeOut,
    PathOut,
    PathsOut,
)

# A path search stops after visiting this many nodes, whatever `max_hops` allows: a hub
# (a client with thousands of tasks) must not make one request unbounded.
MAX_EXPLORED = 5000


def _node(row: Row[Any]) -> NodeOut:
    return NodeOut(id=row.node_id, type=row.node_type, properties=row.properties)


class GraphService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.repo = GraphRepository(uow.session)

    async def _get(self, node_id: str, field: str) -> NodeOut:
        """The node, or a 404 naming the parameter that gave its id."""
        found = await self.repo.nodes([node_id])
        if node_id not in found:
            message = f"node {node_id} does not exist"
            raise NotFound(message, errors=[{"field": field, "message": message}])
        return _node(found[node_id])

    async def neighbors(
        self, node_id: str, direction: Direction, edge_type: str | None, limit: int
    ) -> NeighborsOut:
        node = await self._get(node_id, "node_id")
        edges = await self.repo.edges_of([node_id], direction, edge_type, limit + 1)
        truncated = len(edges) > limit
        edges = edges[:limit]
        others = [e.to_node_id if e.from_node_id == node_id else e.from_node_id for e in edges]
        nodes = await self.repo.nodes(others)
        return NeighborsOut(
            node=node,
            neighbors=[
                NeighborOut(
                    node=_node(nodes[other]),
                    edge=EdgeOut(from_id=e.from_node_id, to_id=e.to_node_id, type=e.edge_type),
                    direction="out" if e.from_node_id == node_id else "in",
                )
                for e, other in zip(edges, others, strict=True)
                if other in nodes
            ],
            truncated=truncated,
        )

    async def paths(self, source: str, target: str, max_hops: int, limit: int) -> PathsOut:
        """Shortest paths ignoring edge direction (how two things are related), breadth
        first one hop per query; each edge keeps its real direction in the answer."""
        await self._get(source, "from")
        await self._get(target, "to")
        # parents[node] = the (previous node, edge) pairs that reach it at its depth.
        parents: dict[str, list[tuple[str, EdgeOut]]] = {source: []}
        frontier = [source]
        truncated = False
        hops = 0
        while frontier and target not in parents and hops < max_hops:
            hops += 1
            budget = MAX_EXPLORED - len(parents)
            edges = await self.repo.edges_of(frontier, "both", None, budget * 4 + 1)
            if len(edges) > budget * 4:
                truncated = True
            nxt: dict[str, list[tuple[str, EdgeOut]]] = {}
            in_frontier = set(frontier)
            for e in edges:
                edge = EdgeOut(from_id=e.from_node_id, to_id=e.to_node_id, type=e.edge_type)
                for here, there in ((e.from_node_id, e.to_node_id), (e.to_node_id, e.from_node_id)):
                    if here in in_frontier and there not in parents:
                        nxt.setdefault(there, []).append((here, edge))
            if len(parents) + len(nxt) > MAX_EXPLORED:
                truncated = True
                nxt = dict(list(nxt.items())[: MAX_EXPLORED - len(parents)])
            parents.update(nxt)
            frontier = list(nxt)
        found: list[tuple[list[str], list[EdgeOut]]] = []
        if target in parents:
            self._walk_back(target, parents, [target], [], found, limit)
        ids = {n for node_ids, _ in found for n in node_ids}
        nodes = await self.repo.nodes(sorted(ids))
        return PathsOut(
            from_id=source,
            to_id=target,
            max_hops=max_hops,
            paths=[
                PathOut(nodes=[_node(nodes[n]) for n in node_ids], edges=edges, hops=len(edges))
                for node_ids, edges in found
            ],
            explored=len(parents),
            truncated=truncated,
        )

    def _walk_back(
        self,
        node: str,
        parents: dict[str, list[tuple[str, EdgeOut]]],
        nodes: list[str],
        edges: list[EdgeOut],
        out: list[tuple[list[str], list[EdgeOut]]],
        limit: int,
    ) -> None:
        if len(out) >= limit:
            return
        if not parents[node]:
            out.append((nodes[::-1], edges[::-1]))
            return
        for prev, edge in parents[node]:
            self._walk_back(prev, parents, [*nodes, prev], [*edges, edge], out, limit)

    async def impact(self, node_id: str, max_depth: int, limit: int) -> ImpactOut:
        """What depends on `node_id`: everything downstream, nearest first."""
        node = await self._get(node_id, "node")
        rows = await self.repo.downstream(node_id, max_depth, limit + 1)
        truncated = len(rows) > limit
        rows = rows[:limit]
        return ImpactOut(
            node=node,
            max_depth=max_depth,
            affected=[ImpactItem(node=_node(r), depth=r.depth) for r in rows],
            counts=dict(Counter(r.node_type for r in rows)),
            truncated=truncated,
        )
