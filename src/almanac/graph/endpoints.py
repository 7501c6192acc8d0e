"""HTTP routes of the graph under /api/v1/graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from almanac.deps import UoW
from almanac.graph.schemas import (
    Direction,
    EdgeType,
    ImpactOut,
    NeighborsOut,
    NodeId,
    PathsOut,
)
from almanac.graph.service import GraphService
from almanac.problems import answers

router = APIRouter(prefix="/api/v1/graph", tags=["graph"])


def get_graph(uow: UoW) -> GraphService:
    return GraphService(uow)


Graph = Annotated[GraphService, Depends(get_graph)]


@router.get("/nodes/{node_id}/neighbors")
async def neighbors(
    node_id: Annotated[NodeId, Path(description="e.g. plan:4, client:7, workflow:2")],
    graph: Graph,
    direction: Direction = "both",
    edge_type: Annotated[EdgeType | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NeighborsOut:
    """A node and the nodes one edge away."""
    return await graph.neighbors(node_id, direction, edge_type, limit)


@router.get("/paths", responses=answers(404))
async def paths(
    graph: Graph,
    from_: Annotated[NodeId, Query(alias="from")],
    to: Annotated[NodeId, Query()],
    max_hops: Annotated[int, Query(ge=1, le=6)] = 4,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> PathsOut:
    """The shortest ways two nodes are related (edges in either direction)."""
    return await graph.paths(from_, to, max_hops, limit)


@router.get("/impact", responses=answers(404))
async def impact(
    graph: Graph,
    node: Annotated[NodeId, Query()],
    max_depth: Annotated[int, Query(ge=1, le=8)] = 5,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> ImpactOut:
    """What depends on a node: e.g. the plans, tasks and runs a blueprint change affects."""
    return await graph.impact(node, max_depth, limit)
