"""All SQL on `memory_entities`: memories linked to the entity nodes they name.

Entity nodes (`entity:<name>`, type `entity`) live in `graph_nodes` beside the nodes the
triggers keep; a link row goes when its memory or its node does (cascades). Node ids are
global, but every read here that returns memories goes through recall's own filter, so a
client's linked memories reach only recalls that may see that client.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.memory.entities import NODE_PREFIX, node_id

# Node types a table's trigger (or forgetting's own step) keeps: never dropped as a bare
# fact subject.
KEPT_TYPES = (
    "workflow",
    "blueprint",
    "template",
    "plan",
    "task",
    "run",
    "fact",
    "document",
    "entity",
    "client",
    "engagement",
)
# A short form is checked against at most this many names it begins (memory.entities),
# each visible to recall's filter through one of its first ALIAS_LINKS memories.
ALIAS_SCAN = 20
ALIAS_LINKS = 1000


def alias_sql(where: str) -> str:
    """The node of the one-word entity name each of `:prefixes` begins, among the entities
    of memories `where` (alias `e`) lets through; none for a prefix that begins several.
    Bounded: the first ALIAS_SCAN names by prefix, each through ALIAS_LINKS of its links."""
    return f"""
SELECT min(c.node_id) AS node_id FROM unnest(CAST(:prefixes AS varchar[])) AS w(p)
CROSS JOIN LATERAL (
    SELECT x.node_id FROM (
        SELECT g.node_id FROM graph_nodes g
        WHERE g.node_type = 'entity'
          AND g.node_id ~>~ w.p AND g.node_id ~<~ (w.p || chr(1114111))
        ORDER BY g.node_id USING ~<~
        LIMIT {ALIAS_SCAN}
    ) x
    WHERE strpos(x.node_id, ' ') = 0
      AND EXISTS (SELECT 1 FROM (SELECT m.event_id FROM memory_entities m
                                 WHERE m.node_id = x.node_id LIMIT {ALIAS_LINKS}) l
                  JOIN events e ON e.id = l.event_id WHERE {where})
    LIMIT 2
) c
GROUP BY w.p HAVING count(*) = 1
"""


class EntityLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def known(self, names: Sequence[str]) -> set[str]:
        """Which of these names are already entity nodes."""
        if not names:
            return set()
        rows = await self.session.execute(
            text("SELECT node_id FROM graph_nodes WHERE node_id = ANY(CAST(:ids AS varchar[]))"),
            {"ids": [node_id(n) for n in set(names)]},
        )
        return {r.node_id[len(NODE_PREFIX) :] for r in rows}

    async def link(self, links: Sequence[tuple[int, str, str]]) -> None:
        """Create the entity nodes and link each (event id, name, role)."""
        if not links:
            return
        names = sorted({name for _, name, _ in links})
        await self.session.execute(
            text(
                "INSERT INTO graph_nodes (node_type, node_id, properties) "
                "SELECT 'entity', 'entity:' || n, jsonb_build_object('name', n) "
                "FROM unnest(CAST(:names AS varchar[])) AS n "
                "ON CONFLICT (node_id) DO NOTHING"
            ),
            {"names": names},
        )
        await self.session.execute(
            text(
                "INSERT INTO memory_entities (node_id, event_id, role) "
                "SELECT 'entity:' || n, e, r FROM unnest(CAST(:names AS varchar[]), "
                "CAST(:events AS bigint[]), CAST(:roles AS varchar[])) AS u(n, e, r) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "names": [name for _, name, _ in links],
                "events": [event for event, _, _ in links],
                "roles": [role for _, _, role in links],
            },
        )

    async def link_clients(self, links: Sequence[tuple[int, int]]) -> None:
        """Link each (event id, client id) to the client's `client:<id>` node (role
        `subject`), creating the node as the graph's triggers do when it is not there yet."""
        if not links:
            return
        await self.session.execute(
            text(
                "INSERT INTO graph_nodes (node_type, node_id, properties) "
                "SELECT DISTINCT 'client', 'client:' || c, CAST('{}' AS jsonb) "
                "FROM unnest(CAST(:clients AS bigint[])) AS c "
                "ON CONFLICT (node_id) DO NOTHING"
            ),
            {"clients": sorted({c for _, c in links})},
        )
        await self.session.execute(
            text(
                "INSERT INTO memory_entities (node_id, event_id, role) "
                "SELECT 'client:' || c, e, 'subject' FROM unnest(CAST(:events AS bigint[]), "
                "CAST(:clients AS bigint[])) AS u(e, c) ON CONFLICT DO NOTHING"
            ),
            {"events": [e for e, _ in links], "clients": [c for _, c in links]},
        )

    async def nodes_of(self, event_ids: Sequence[int]) -> list[str]:
        """The entity nodes these memories link to (to prune once they are deleted)."""
        if not event_ids:
            return []
        rows = await self.session.execute(
            text(
                "SELECT DISTINCT node_id FROM memory_entities "
                "WHERE event_id = ANY(CAST(:ids AS bigint[])) AND node_id LIKE 'entity:%'"
            ),
            {"ids": list(event_ids)},
        )
        return sorted(rows.scalars())

    async def prune(self, node_ids: Sequence[str] | None = None) -> int:
        """Delete entity nodes no memory links to any more (after forgetting or retention):
        all of them, or only those among `node_ids`."""
        only = "" if node_ids is None else "AND n.node_id = ANY(CAST(:ids AS varchar[])) "
        result = await self.session.execute(
            text(
                f"DELETE FROM graph_nodes n WHERE n.node_type = 'entity' {only}AND NOT EXISTS "
                "(SELECT 1 FROM memory_entities m WHERE m.node_id = n.node_id)"
            ),
            {} if node_ids is None else {"ids": list(node_ids)},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def drop_ended_facts(self) -> int:
        """Delete the nodes of facts whose `valid_to` has passed since they were written
        (time passing fires no trigger; migration 0042), then the nodes only they hung
        off (`drop_subjects`); returns how many facts left the graph."""
        rows = await self.session.execute(
            text(
                "DELETE FROM graph_nodes n USING facts f WHERE n.node_type = 'fact' "
                # A subject `fact:x` makes a node of type fact too: only `fact:<id>` is cast.
                "AND f.id = CASE WHEN n.node_id ~ '^fact:[0-9]{1,18}$' "
                "THEN CAST(substr(n.node_id, 6) AS bigint) END "
                "AND f.valid_to <= clock_timestamp() "
                "RETURNING left(f.subject_type || ':' || f.subject_id, 255)"
            )
        )
        subjects = list(rows.scalars())
        await self.drop_subjects(sorted(set(subjects)))
        return len(subjects)

    async def drop_subjects(self, node_ids: Sequence[str]) -> int:
        """Delete, among `node_ids`, the nodes forgotten facts hung off (`person:ana`) that
        nothing is linked to now. A node a table keeps (a workflow's, a client's: the
        `KEPT_TYPES`) stays, bare or not: its row or `drop_client` decides."""
        if not node_ids:
            return 0
        result = await self.session.execute(
            text(
                "DELETE FROM graph_nodes n WHERE n.node_id = ANY(CAST(:ids AS varchar[])) "
                "AND n.node_type <> ALL(CAST(:kept AS varchar[])) "
                "AND NOT EXISTS (SELECT 1 FROM graph_edges e WHERE e.from_node_id = n.node_id) "
                "AND NOT EXISTS (SELECT 1 FROM graph_edges e WHERE e.to_node_id = n.node_id) "
                "AND NOT EXISTS (SELECT 1 FROM memory_entities m WHERE m.node_id = n.node_id)"
            ),
            {"ids": list(node_ids), "kept": list(KEPT_TYPES)},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def drop_engagements(self, client_id: int) -> int:
        """Delete the `engagement:<id>` nodes a forgotten client's plans made, once empty.

        Like the client's, an engagement node has no row of its own: its plans' and
        templates' nodes went with their rows, leaving it linked to the client alone. One
        that another client's plan, template or fact still hangs off stays."""
        result = await self.session.execute(
            text(
                "DELETE FROM graph_nodes n WHERE n.node_type = 'engagement' "
                "AND EXISTS (SELECT 1 FROM graph_edges e WHERE e.from_node_id = :client "
                "AND e.to_node_id = n.node_id AND e.edge_type = 'has_engagement') "
                "AND NOT EXISTS (SELECT 1 FROM graph_edges e WHERE e.from_node_id = n.node_id) "
                "AND NOT EXISTS (SELECT 1 FROM graph_edges e WHERE e.to_node_id = n.node_id "
                "AND e.from_node_id <> :client)"
            ),
            {"client": f"client:{client_id}"},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def drop_client(self, client_id: int) -> int:
        """Delete a forgotten client's `client:<id>` node; its edges and links cascade.

        The triggers drop the nodes of the client's plans and documents with their rows,
        but the client has no table of its own, so its node would stay behind, empty."""
        result = await self.session.execute(
            text("DELETE FROM graph_nodes WHERE node_id = :id"), {"id": f"client:{client_id}"}
        )
        return int(getattr(result, "rowcount", 0) or 0)
