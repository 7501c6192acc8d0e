"""Recall's author signal (memory.author_signal) and short forms of names: a query naming a
person finds what that person said, "Mel" stands for "Melanie" -- within recall's scope."""

from __future__ import annotations

from almanac.embedder import Embedder
from almanac.memory.entities import alias_words
from almanac.memory.graph_signal import candidate_nodes
from almanac.memory.linked_search import LinkedSearch
from almanac.memory.search_sql import NO_FILTER, EventFilters
from almanac.memory.service import MemoryService
from tests.memory.signals import ids, remember, service


async def said_by_named(
    svc: MemoryService,
    embedder: Embedder,
    query: str,
    f: EventFilters,
    candidates: list[int],
    aliases: bool = True,
) -> set[int]:
    """Recall's author list (LinkedSearch.with_members: names, short forms and authors in
    one statement): the `candidates` said by or about a name the query holds under `f`."""
    svc.search.forget_terms()
    qvec = [float(x) for x in await embedder.embed_query(query)]
    words = alias_words(query) if aliases else []
    _, found = await LinkedSearch(svc.search).with_members(
        query, qvec, embedder.model, f, candidate_nodes(query), words, [], candidates
    )
    return found


async def test_a_short_form_stands_for_the_one_name_it_begins(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    melanie, marco = await remember(
        svc, ["Melanie: I painted a lake at sunrise", "Marco: the bus was late"]
    )
    (caroline,) = await remember(svc, ["Caroline: I met Carl and Carla at the market"])
    everyone = [melanie, marco, caroline]

    async def named(query: str, aliases: bool = True) -> set[int]:
        return await said_by_named(svc, embedder, query, NO_FILTER, everyone, aliases)

    assert await named("What did Mel paint?") == {melanie}
    # "Car" begins three names (caroline, carl, carla): ambiguous, so it stands for none;
    # a short form opening the question is grammar's capital, not a name.
    assert await named("Which Car did she buy?") == set()
    assert await named("Mar was fun?") == set()
    assert await named("What did Mel paint?", aliases=False) == set()


async def test_a_short_form_only_stands_for_names_within_the_scope(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    (melanie,) = await remember(svc, ["Melanie: the invoice went out"], client_id=2)
    (priya,) = await remember(svc, ["Priya: the kickoff is on Monday"], client_id=1)
    query, both = "What did Mel send?", [melanie, priya]
    assert await said_by_named(svc, embedder, query, NO_FILTER, both) == {melanie}
    for scope in (EventFilters(client_id=1), EventFilters(for_client=1)):
        assert await said_by_named(svc, embedder, query, scope, both) == set()


# Said by others, about Ingrid, in the question's own words: what plain recall ranks first.
ABOUT_HER = [
    "Oskar: Ingrid has been up late working on something lately",
    "Oskar: lately Ingrid keeps working late, I wonder what on",
    "Priya: has Ingrid been up to anything? She seems busy lately",
    "Oskar: no idea what Ingrid is up to these days",
]
OTHERS = [
    "Oskar: the ferry stayed in port because of the storm",
    "Priya: I baked bread for the neighbours",
    "Oskar: the harbour cafe has a new menu",
]
# Her own statement shares no word with the question but her name (as its speaker).
HERS = "Ingrid: I finally finished restoring the old wooden sailboat in the shed"
QUESTION = "What has Ingrid been up to lately?"


async def test_a_query_naming_a_person_finds_what_she_said(db_session, embedder, settings):
    plain = service(db_session, embedder, settings, author_weight=0, diversity_lambda=1)
    await remember(plain, ABOUT_HER + OTHERS)
    (hers,) = await remember(plain, [HERS])

    without = await ids(plain, QUESTION, k=4)
    signal = service(db_session, embedder, settings, diversity_lambda=1)
    assert hers not in without  # the signal is what finds it
    assert hers in await ids(signal, QUESTION, k=4)
    # "Ingrid's" names her too.
    assert hers in await ids(signal, "What are Ingrid's plans lately?", k=4)


async def test_the_author_signal_stays_within_the_clients_scope(db_session, embedder, settings):
    svc = service(db_session, embedder, settings)
    await remember(svc, ABOUT_HER + OTHERS, client_id=1)
    (theirs,) = await remember(svc, [HERS], client_id=2)
    (ours,) = await remember(svc, ["Ingrid: I sent the harbour invoice"], client_id=1)
    for scoped in ({"client_id": 1}, {"for_client": 1}):
        got = await ids(svc, QUESTION, k=10, **scoped)
        assert ours in got and theirs not in got
    assert theirs in await ids(svc, QUESTION, k=10, client_id=2)


async def test_a_memory_of_a_client_links_to_the_clients_node(db_session, embedder, settings):
    from sqlalchemy import text

    svc = service(db_session, embedder, settings)
    (mine,) = await remember(svc, ["Priya: the kickoff is on Monday"], client_id=7)
    (none,) = await remember(svc, ["Priya: my own note"])
    rows = await db_session.execute(
        text(
            "SELECT m.event_id, m.node_id, m.role, n.node_type FROM memory_entities m "
            "JOIN graph_nodes n USING (node_id) WHERE m.node_id LIKE 'client:%'"
        )
    )
    assert [tuple(r) for r in rows] == [(mine, "client:7", "subject", "client")]
    assert none != mine


async def test_short_forms_and_authors_in_one_statement_stay_within_the_scope(
    db_session, embedder, settings
):
    """Recall's own path (LinkedSearch.with_members: names, short forms and the author list
    in one statement): two clients, one short form that begins a name in each, the same
    words. Each client's "Mel" is its own name, and the author list only holds its own."""
    svc = service(db_session, embedder, settings)
    mine = await remember(svc, ["Melody: I painted the harbour wall"] * 2, client_id=1)
    theirs = await remember(svc, ["Melanie: I painted the harbour wall"] * 2, client_id=2)
    query = "What did Mel paint at the harbour?"
    everything = [*mine, *theirs]  # both as candidates: only the names resolved in scope count

    async def members(f: EventFilters) -> set[int]:
        return await said_by_named(svc, embedder, query, f, everything)

    # Unscoped, "Mel" begins two names: it stands for neither.
    assert await members(NO_FILTER) == set()
    for f in (EventFilters(client_id=1), EventFilters(for_client=1)):
        assert await members(f) == set(mine)
    assert await members(EventFilters(client_id=2)) == set(theirs)
    for scoped, own in (({"client_id": 1}, mine), ({"client_id": 2}, theirs)):
        got = await ids(svc, query, k=4, **scoped)
        assert set(got) == set(own)
