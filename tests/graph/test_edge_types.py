"""The graph's edge types: one constant, true to what the database's triggers write, and a
filter by any other type a 422 that lists them (it was an empty 200: a typo looked like
"no such edges")."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.graph.schemas import EDGE_TYPES

G = "/api/v1/graph"

# The bodies of the functions the triggers run, as the database has them after every
# migration (a later one may replace a function of 0016's).
BODIES = "SELECT prosrc FROM pg_proc WHERE proname LIKE 'graph\\_%' AND prosrc LIKE '%graph_%'"


def _arguments(rest: str) -> str:
    """The text up to the parenthesis closing a call whose arguments `rest` begins with."""
    depth, quoted = 1, False
    for i, char in enumerate(rest):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return rest[:i]
    raise AssertionError(f"an unclosed call: {rest[:80]!r}")


def _written(bodies: list[str]) -> set[str]:
    """The type of each `graph_edge(from, to, 'type')` call: its last plain literal."""
    types = set()
    for body in bodies:
        for call in body.split("graph_edge(")[1:]:
            args = _arguments(call)
            literals = re.findall(r"'([a-z_]+)'", args)
            assert literals, f"a graph_edge call without a literal type: {args!r}"
            types.add(literals[-1])
    return types


def _unlinked(bodies: list[str]) -> set[str]:
    """The types the functions delete by name (`ARRAY['has_task', ...]`, `edge_type = 'x'`)."""
    types: set[str] = set()
    for body in bodies:
        for array in re.findall(r"ARRAY\[([^\]]*)\]", body):
            types.update(re.findall(r"'([a-z_]+)'", array))
        types.update(re.findall(r"edge_type = '([a-z_]+)'", body))
    return types


async def test_edge_types_are_the_ones_the_database_writes(db_session: AsyncSession) -> None:
    bodies = list((await db_session.execute(text(BODIES))).scalars())
    written = _written(bodies)
    assert written == set(EDGE_TYPES)
    assert len(EDGE_TYPES) == len(written)  # no type listed twice
    # Every type a trigger forgets before re-deriving is one it writes (a typo there
    # would leave stale edges behind).
    assert _unlinked(bodies) <= written


async def test_an_unknown_edge_type_is_a_422_listing_the_known_ones(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "7",
            "fact_type": "constraint",
            "content": "No calls on Fridays",
        },
    )
    assert r.status_code == 201, r.text
    url = f"{G}/nodes/client:7/neighbors"
    known = await client.get(url, params={"edge_type": "has_fact"})
    assert known.status_code == 200, known.text
    assert [n["edge"]["type"] for n in known.json()["neighbors"]] == ["has_fact"]

    r = await client.get(url, params={"edge_type": "has_facts"})
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "edge_type"
    for edge_type in EDGE_TYPES:
        assert f"'{edge_type}'" in error["message"], error["message"]
