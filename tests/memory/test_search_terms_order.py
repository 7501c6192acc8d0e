"""Memories deleted while others sharing their words are remembered: no deadlock.

The insert trigger takes the words' statistics rows in word order; the delete trigger took
them in its join's order, so a delete and a remember could each hold a word the other
waited for, and Postgres failed one (migration 0043)."""

from __future__ import annotations

import asyncio
import random

import httpx
from sqlalchemy import text as sql

from almanac.db.migrate import current_revision, upgrade
from tests.databases import downgrade, scratch_engine

R = "/api/v1/memory/remember"
ZEBRA = (
    "INSERT INTO events (event_type, event_source, content) "
    "VALUES ('memory', 'user', 'zebra crossing')"
)
WORDS = "alpha beta gamma delta epsilon zeta theta iota kappa lambda sigma omega".split()


async def test_deletes_and_remembers_sharing_words_all_succeed(
    committed_client: httpx.AsyncClient,
) -> None:
    rng = random.Random(11)

    def text() -> str:
        return " ".join(rng.sample(WORDS, 9))

    ids = []
    for _ in range(40):
        r = await committed_client.post(R, json={"content": text()})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for _ in range(4):
        calls = [committed_client.delete(f"/api/v1/memory/events/{ids.pop()}") for _ in range(8)]
        calls += [committed_client.post(R, json={"content": text()}) for _ in range(8)]
        rng.shuffle(calls)
        answers = await asyncio.gather(*calls)
        assert all(a.status_code in (200, 201) for a in answers), [
            (a.status_code, a.text[:120]) for a in answers if a.status_code not in (200, 201)
        ]


async def test_the_ordered_delete_trigger_upgrades_and_downgrades(pg_url: str) -> None:
    """0043 replaces the delete trigger's function and 0042's comes back on downgrade;
    either way a delete still takes its words' counts back."""
    body = "SELECT prosrc FROM pg_proc WHERE proname = 'search_terms_on_delete'"
    df = "SELECT df FROM search_terms WHERE kind = 'event' AND lexeme = 'zebra'"
    async with scratch_engine(pg_url, "almanac_search_terms_order") as engine:
        await upgrade(engine, "0043")
        for revision, ordered in (("0043", True), ("0042", False), ("0043", True)):
            if revision == "0042":
                await downgrade(engine, "0042")
            elif await current_revision(engine) != "0043":
                await upgrade(engine, "0043")
            async with engine.begin() as conn:
                assert ("ORDER BY t.lexeme" in await conn.scalar(sql(body))) is ordered
                await conn.execute(sql(ZEBRA))
                assert await conn.scalar(sql(df)) == 1
                await conn.execute(sql("DELETE FROM events WHERE content = 'zebra crossing'"))
                assert await conn.scalar(sql(df)) == 0
