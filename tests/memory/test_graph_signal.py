"""Recall's graph signal: memories are linked to the entities they name, and a query that
names an entity also finds memories about the entities next to it -- within its own scope."""

from __future__ import annotations

from sqlalchemy import text

from almanac.memory.entity_links import EntityLinkRepository
from almanac.memory.graph_signal import candidate_nodes
from almanac.memory.linked_search import LinkedSearch
from almanac.memory.search_sql import NO_FILTER, EventFilters
from tests.memory.signals import ids, remember, service

# Everyday memories that name no one: the haystack the graph must see through.
FILLER = [
    f"{thing} {verb} on day {i}"
    for i, (thing, verb) in enumerate(
        (t, v)
        for t in (
            "the garden hose",
            "a new kettle",
            "the bike tyre",
            "our shared calendar",
            "the team lunch",
            "the office plant",
            "a rainy commute",
            "the quarterly report",
        )
        for v in ("was fixed", "needed attention", "came up again", "went fine", "was late")
    )
]
# Closer to the question in words and meaning than the memory about B is.
DISTRACTORS = [
    "Someone introduced me to a great podcast about sailing",
    "The manager will introduce the new intern to the team",
    "Who did the dishes after the party? Nobody did",
    "I did introduce the budget plan to the board",
    "She introduced her sister to me at the wedding",
]
BRIDGE = "Ingrid Halvorsen introduced me to Oskar Lindqvist at the harbour meeting"
# Shares no word and little meaning with the question below: only the graph connects it.
ABOUT_B = "Oskar Lindqvist repaired the ferry engine before the storm season"
QUESTION = "Who did Ingrid Halvorsen introduce me to?"


async def test_remember_links_memories_to_the_entities_they_name(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    (first,) = await remember(svc, [BRIDGE])
    await remember(svc, ["Yesterday I had coffee with Ingrid Halvorsen downtown"])
    (again,) = await remember(svc, ["Priya: " + BRIDGE])

    async def links(event_id: int) -> list[tuple[str, str]]:
        rows = await db_session.execute(
            text(
                "SELECT m.node_id, m.role FROM memory_entities m JOIN graph_nodes n "
                "USING (node_id) WHERE m.event_id = :id AND n.node_type = 'entity' "
                "ORDER BY m.node_id"
            ),
            {"id": event_id},
        )
        return [(r.node_id, r.role) for r in rows]

    # A name that only opens a sentence is not yet an entity...
    assert await links(first) == [("entity:oskar lindqvist", "mention")]
    # ...until a clear mention makes it one; a transcript's speaker is one too.
    assert await links(again) == [
        ("entity:ingrid halvorsen", "initial"),
        ("entity:oskar lindqvist", "mention"),
        ("entity:priya", "speaker"),
    ]


async def test_a_query_naming_a_finds_the_memory_about_b_through_the_graph(
    db_session, embedder, settings
):
    plain = service(db_session, embedder, settings, graph_weight=0, graph_neighbour_weight=0)
    await remember(plain, FILLER + DISTRACTORS)
    # Named mid-sentence here, so "Ingrid Halvorsen" is an entity even where it opens one.
    await remember(plain, ["Yesterday I had coffee with Ingrid Halvorsen downtown"])
    (bridge,) = await remember(plain, [BRIDGE])
    (about_b,) = await remember(plain, [ABOUT_B])

    without = await ids(plain, QUESTION, k=4)
    with_graph = await ids(service(db_session, embedder, settings), QUESTION, k=4)

    assert bridge in without and about_b not in without  # the signal is what finds it
    assert bridge in with_graph and about_b in with_graph


async def test_another_clients_linked_memories_never_come_back(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    # Enough memories that an entity named in three of them is still a rare one.
    await remember(svc, FILLER + [f"{line}, again" for line in FILLER])
    await remember(svc, ["Yesterday I had coffee with Ingrid Halvorsen downtown"], client_id=1)
    (bridge,) = await remember(svc, [BRIDGE], client_id=1)
    (theirs,) = await remember(svc, [ABOUT_B], client_id=2)
    (ours,) = await remember(svc, ["Oskar Lindqvist invoiced us for the dock work"], client_id=1)

    # The graph does lead from Ingrid to both memories about Oskar...
    qvec = [float(x) for x in await embedder.embed_query(QUESTION)]
    search = svc.search

    async def graph_only(f: EventFilters) -> list[int]:
        first = await search.search_events(QUESTION, qvec, embedder.model, embedder.dim, 10, f)
        hits, _ = await LinkedSearch(search).with_members(
            QUESTION,
            qvec,
            embedder.model,
            f,
            candidate_nodes(QUESTION),
            (),
            [h.id for h in first],
            (),
        )
        return [h.id for h in hits]

    assert {theirs, ours} <= set(await graph_only(NO_FILTER))
    # ...but within a client's scope, only to that client's.
    for scope in (EventFilters(client_id=1), EventFilters(for_client=1)):
        found = await graph_only(scope)
        assert ours in found and theirs not in found
    for scoped in ({"client_id": 1}, {"for_client": 1}):
        got = await ids(svc, QUESTION, k=10, **scoped)
        assert bridge in got and ours in got and theirs not in got


async def test_an_entity_most_memories_name_adds_nothing(db_session, embedder, settings):
    """The user's own name on nearly every memory is no signal; a rare name is one."""
    svc = service(db_session, embedder, settings)
    await remember(svc, [f"Note for Alex Morgan: {line}" for line in FILLER])
    (rare,) = await remember(svc, ["We asked Oskar Lindqvist about the garden hose"])

    async def graph_only(query: str) -> list[int]:
        qvec = [float(x) for x in await embedder.embed_query(query)]
        first = await svc.search.search_events(
            query, qvec, embedder.model, embedder.dim, 5, NO_FILTER
        )
        nodes, seeds = candidate_nodes(query), [h.id for h in first]
        hits, _ = await LinkedSearch(svc.search).with_members(
            query, qvec, embedder.model, NO_FILTER, nodes, (), seeds, ()
        )
        return [h.id for h in hits]

    assert await graph_only("What did Alex Morgan fix?") == []
    assert await graph_only("What did Oskar Lindqvist say about the hose?") == [rare]


async def test_forgetting_the_memories_prunes_their_entity_nodes(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    (bridge,) = await remember(svc, [BRIDGE])
    node = text("SELECT count(*) FROM graph_nodes WHERE node_id = 'entity:oskar lindqvist'")
    assert (await db_session.execute(node)).scalar_one() == 1
    # Deleting the memory prunes the names only it linked to, itself: none left to prune.
    await svc.delete_event(bridge)
    assert (await db_session.execute(node)).scalar_one() == 0
    assert await EntityLinkRepository(db_session).prune() == 0
