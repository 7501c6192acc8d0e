"""Shapes of the graph API."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field

# `<type>:<key>`: a fact's subject type is a node type as written ("Vendor2", "Person").
NodeId = Annotated[
    str, Field(min_length=3, max_length=255, pattern=r"^[^:\x00]{1,50}:[^\x00]{1,253}$")
]
Direction = Literal["out", "in", "both"]
# Every type of edge the triggers of migrations 0016/0042 write (`graph_edge(..., 'type')`):
# a filter by any other type is a typo, answered with a 422 that lists these, not an empty
# 200. tests/graph/test_edge_types.py compares them with the functions in the database.
EdgeType = Literal[
    "parent_of",
    "includes",
    "instantiated_as",
    "has_template",
    "planned_from",
    "has_plan",
    "has_engagement",
    "approved_as",
    "has_task",
    "precedes",
    "executed_by",
    "has_fact",
    "has_document",
]
EDGE_TYPES: tuple[str, ...] = get_args(EdgeType)


class NodeOut(BaseModel):
    id: str
    type: str
    properties: dict[str, Any]


class EdgeOut(BaseModel):
    from_id: str
    to_id: str
    type: str


class NeighborOut(BaseModel):
    node: NodeOut
    edge: EdgeOut
    direction: Literal["out", "in"]


class NeighborsOut(BaseModel):
    node: NodeOut
    neighbors: list[NeighborOut]
    truncated: bool


class PathOut(BaseModel):
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    hops: int


class PathsOut(BaseModel):
    from_id: str
    to_id: str
    max_hops: int
    paths: list[PathOut]
    # Nodes reached before the search stopped; a search that hit its bound says so.
    explored: int
    truncated: bool


class ImpactItem(BaseModel):
    node: NodeOut
    depth: int


class ImpactOut(BaseModel):
    node: NodeOut
    max_depth: int
    affected: list[ImpactItem]
    counts: dict[str, int]
    truncated: bool
