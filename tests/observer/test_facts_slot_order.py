"""Two fact-writing jobs sharing slots, written in opposite orders, at once (real commits):
each write locks its slot, so unless a job locks all its slots first, in one order, they
would deadlock (40P01)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from almanac.db.uow import unit_of_work
from almanac.memory.port import InProcessMemory, memory_service
from almanac.memory.schemas import FactIn, FactOut, FactsQuery, FactWriteOut
from almanac.models import Fact
from almanac.observer.facts import FactExtractor
from almanac.state import AppState

ROUNDS = 3
HOLD_SECONDS = 1.5  # longer than Postgres' deadlock_timeout (1 s): a deadlock shows


def proposal(slot: str, round_: int, job: str) -> dict[str, Any]:
    return {
        "subject_type": "client",
        "subject_id": "acme",
        "fact_type": "constraint",
        "category": slot,
        "content": f"{slot} rule, version {round_} from job {job}",
    }


class HoldAfterFirstWrite:
    """The real in-process memory; after its first fact write (its slot now locked) it
    waits for the other job to hold one too (at most HOLD_SECONDS), then carries on."""

    def __init__(self, memory: InProcessMemory, mine: asyncio.Event, other: asyncio.Event):
        self.memory, self.mine, self.other = memory, mine, other

    async def facts(self, query: FactsQuery) -> list[FactOut]:
        return await self.memory.facts(query)

    async def lock_fact_slots(self, facts: Sequence[FactIn]) -> None:
        await self.memory.lock_fact_slots(facts)

    async def write_fact(self, fact: FactIn, source_event_id: int | None = None) -> FactWriteOut:
        out = await self.memory.write_fact(fact, source_event_id)
        if not self.mine.is_set():
            self.mine.set()
            try:
                await asyncio.wait_for(self.other.wait(), HOLD_SECONDS)
            except TimeoutError:
                pass  # the other job waits on a slot this one holds: no deadlock to wait for
        return out


async def job(
    state: AppState, proposals: list[dict[str, Any]], mine: asyncio.Event, other: asyncio.Event
) -> list[str]:
    async with unit_of_work(state.sessionmaker) as uow:
        memory = HoldAfterFirstWrite(InProcessMemory(memory_service(uow, state)), mine, other)
        facts = FactExtractor(uow, memory=memory, llm=None)  # type: ignore[arg-type]
        return [d.decision for d in await facts.decide_all(proposals, "numbers", None)]


async def test_opposite_orders_of_the_same_slots_do_not_deadlock(committed_state: AppState):
    for round_ in range(ROUNDS):
        one, two = asyncio.Event(), asyncio.Event()
        first = [proposal("a_slot", round_, "1"), proposal("b_slot", round_, "1")]
        second = [proposal("b_slot", round_, "2"), proposal("a_slot", round_, "2")]
        out = await asyncio.gather(
            job(committed_state, first, one, two), job(committed_state, second, two, one)
        )
        expected = {"added", "superseded"}
        assert all(set(decisions) <= expected for decisions in out), out
        assert len(out[0]) == len(out[1]) == 2
    async with committed_state.sessionmaker() as session:
        current = select(func.count()).select_from(Fact).where(Fact.valid_to.is_(None))
        assert await session.scalar(current) == 2  # one current fact per slot
