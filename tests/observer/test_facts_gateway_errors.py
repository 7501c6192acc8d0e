"""A fact proposal meeting a Memory Gateway error over HTTP (the two-process mode):
a 5xx or a Gateway that times out fails the job (retried), a 4xx is a rejection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from procrastinate.jobs import Job
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.errors import AlmanacError, DependencyUnavailable
from almanac.memory.client import HttpMemoryClient
from almanac.memory.port import RemoteMemory
from almanac.models.observer import FactDecision
from almanac.observer.facts import FactExtractor
from almanac.observer.tasks import EXTRACT_RETRY
from tests.doubles.failing_gateway import FailingGateway
from tests.observer.test_facts import count, event

PROPOSAL = {
    "subject_type": "client",
    "subject_id": "42",
    "fact_type": "constraint",
    "content": "Never on Fridays",
}


async def extractor(
    db_session: AsyncSession, base_url: str, timeout: float = 5.0
) -> AsyncIterator[FactExtractor]:
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as http:
        # As the Planner connects (`connect_gateway`): with its own key.
        memory = RemoteMemory(HttpMemoryClient(http, own_key=True))
        yield FactExtractor(UnitOfWork(db_session), memory=memory, llm=None)


@pytest.fixture
def gateway_503() -> AsyncIterator[FailingGateway]:
    gw = FailingGateway(503, "database unavailable")
    yield gw
    gw.close()


async def test_gateway_5xx_propagates_and_records_nothing(
    db_session: AsyncSession, gateway_503: FailingGateway
):
    ev = await event(db_session)
    async for facts in extractor(db_session, gateway_503.base_url):
        with pytest.raises(AlmanacError) as info:
            await facts.decide(PROPOSAL, "metadata", ev.id)
    assert info.value.status_code == 503
    assert len(gateway_503.writes) == 1  # the write was tried, and failed
    assert await count(db_session, FactDecision) == 0


async def test_gateway_timeout_on_the_write_propagates_and_records_nothing(
    db_session: AsyncSession,
):
    gw = FailingGateway(201, "", delay=2.0)  # answers too late
    try:
        ev = await event(db_session)
        async for facts in extractor(db_session, gw.base_url, timeout=0.5):
            with pytest.raises(DependencyUnavailable):
                await facts.decide(PROPOSAL, "metadata", ev.id)
    finally:
        gw.close()
    assert len(gw.writes) == 1
    assert await count(db_session, FactDecision) == 0


async def test_gateway_4xx_is_recorded_as_rejected_with_its_reason(db_session: AsyncSession):
    gw = FailingGateway(422, "content: too long")
    try:
        ev = await event(db_session)
        async for facts in extractor(db_session, gw.base_url):
            out = await facts.decide(PROPOSAL, "metadata", ev.id)
    finally:
        gw.close()
    assert (out.decision, out.reason) == ("rejected", "content: too long")
    assert await count(db_session, FactDecision) == 1


def test_a_gateway_5xx_gets_the_long_backoff_of_an_outage():
    job = Job(id=1, queue="observer", lock=None, queueing_lock=None, task_name="x", attempts=0)
    outage = EXTRACT_RETRY.get_retry_decision(
        exception=AlmanacError("database unavailable", 503), job=job
    )
    bug = EXTRACT_RETRY.get_retry_decision(exception=ValueError("bug"), job=job)
    assert outage is not None and bug is not None
    assert outage.retry_at is not None and bug.retry_at is not None
    assert outage.retry_at - bug.retry_at > timedelta(seconds=30)


@pytest.mark.parametrize("status", [401, 403])
async def test_the_planners_key_refused_propagates_and_records_nothing(
    db_session: AsyncSession, status: int
):
    """A Gateway refusing the Planner's key was a 4xx, so the proposal was recorded as
    "rejected" and lost; it is a 503 now, and the job is retried until the key is fixed."""
    gw = FailingGateway(status, "the API key is not valid")
    try:
        ev = await event(db_session)
        async for facts in extractor(db_session, gw.base_url):
            with pytest.raises(DependencyUnavailable):
                await facts.decide(PROPOSAL, "metadata", ev.id)
    finally:
        gw.close()
    assert await count(db_session, FactDecision) == 0
