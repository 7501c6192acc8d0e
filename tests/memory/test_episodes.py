"""Recall's episode signal (memory.episodes): the rest of the sitting that holds the best
match rises, so a second piece of the answer beats a look-alike from elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from almanac.config import SearchSettings
from almanac.memory.episodes import episode, fuse_episodes
from almanac.memory.search import Hit
from tests.memory.signals import ids, remember, service

DAY1 = datetime(2026, 6, 6, 18, 0, tzinfo=UTC)
DAY2 = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)


def hit(i: int, score: float, session: str | None, at: datetime | None = DAY1) -> Hit:
    return Hit(i, "event", f"m{i}", score, at, session, {}, None, rrf=score)


def test_an_episodes_second_memory_overtakes_a_stronger_one_from_a_weaker_episode():
    s = SearchSettings()
    hits = [hit(1, 0.050, "trip"), hit(2, 0.040, "shop"), hit(3, 0.0399, "trip")]
    out = fuse_episodes(hits, s)
    assert [h.id for h in out] == [1, 3, 2]
    # The gain is a reciprocal rank: 1/(60+1) for the best episode, 1/(60+2) for the next.
    assert abs(out[1].score - (0.0399 + 1 / 61)) < 1e-12
    assert abs(out[2].score - (0.040 + 1 / 62)) < 1e-12
    assert fuse_episodes(hits, s.model_copy(update={"episode_weight": 0})) == hits


def test_an_episode_is_a_sessions_day_and_a_memory_without_a_session_stands_alone():
    assert episode(hit(1, 1, "trip")) == episode(hit(2, 1, "trip", DAY1.replace(hour=9)))
    assert episode(hit(1, 1, "trip")) != episode(hit(2, 1, "trip", DAY2))
    assert episode(hit(1, 1, None)) != episode(hit(2, 1, None))
    # Two sessionless memories are not one episode, so neither lifts the other.
    hits = [hit(1, 0.050, None), hit(2, 0.040, "shop"), hit(3, 0.0399, None)]
    assert [h.id for h in fuse_episodes(hits, SearchSettings())] == [1, 2, 3]


TRIP = [
    "We went on a camping trip by the river last weekend",
    "The kids roasted marshmallows and watched the stars until midnight",
    "I am still tired today",
]
# Each from another sitting, and each sharing a word with the question, which the
# marshmallows do not.
ELSEWHERE = [
    "The bus trip to the office took an hour",
    "The outdoor shop has a sale on camping stoves",
    "A school trip to the museum is planned for May",
    "The business trip to Lyon was moved to Thursday",
    "Camping gas is cheaper at the hardware store",
    "The road trip playlist needs more songs",
    "Our trip insurance renews next month",
    "The camping site asked for a deposit",
]
QUESTION = "What did we do on the camping trip?"


async def test_recall_brings_the_rest_of_the_best_episode_into_the_top_k(
    db_session, embedder, settings
):
    plain = service(db_session, embedder, settings, episode_weight=0, diversity_lambda=1)
    trip = await remember(plain, TRIP, session_id="weekend", occurred_at=DAY1)
    for n, text in enumerate(ELSEWHERE):
        await remember(plain, [text], session_id=f"other-{n}", occurred_at=DAY2)
    camping, marshmallows = trip[0], trip[1]

    without = await ids(plain, QUESTION, 11)
    episodes = service(db_session, embedder, settings, diversity_lambda=1)
    with_episodes = await ids(episodes, QUESTION, 11)
    assert without[0] == with_episodes[0] == camping
    # Below two look-alikes from other sittings without the signal, above them with it.
    assert without.index(marshmallows) == 8 and with_episodes.index(marshmallows) == 6
    assert marshmallows in await ids(episodes, QUESTION, 7)
    assert marshmallows not in await ids(plain, QUESTION, 7)
