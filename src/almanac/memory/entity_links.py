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

    async def prune(self) -> int:
        """Delete entity nodes no memory links to any more (after forgetting)."""
        result = await self.session.execute(
            text(
                "DELETE FROM graph_nodes n WHERE n.node_type = 'entity' AND NOT EXISTS "
                "(SELECT 1 FROM memory_entities m WHERE m.node_id = n.node_id)"
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
