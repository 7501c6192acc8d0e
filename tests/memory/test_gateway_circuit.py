"""The Planner's Gateway client stops asking for one deadline only after a Gateway that did
not answer: an answer (even a 503 about one request's lock) must not fail every other
client's calls, which share this one per-process client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from almanac.errors import AlmanacError
from almanac.memory.client import HttpMemoryClient
from almanac.memory.schemas import FactIn, FactsQuery
from tests.doubles.loopback import JSONHandler, Loopback

DEADLINE = 30.0  # long: a call refused "not asked again yet" would be refused all test


class _BusySlot(JSONHandler):
    """A Gateway whose fact writes meet another writer's lock (the real 503 `Busy`
    problem) while its reads answer."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self._send(200, [])  # type: ignore[arg-type]

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = json.dumps(
            {
                "type": "about:blank",
                "title": "Busy",
                "status": 503,
                "detail": "the fact slot is being written by another request; retry shortly",
            }
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "5")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def busy_slot() -> Iterator[str]:
    loop = Loopback(_BusySlot, "busy-slot-gateway")
    try:
        yield loop.base_url.removesuffix("/v1")
    finally:
        loop.close()


async def test_a_busy_answer_for_one_write_does_not_refuse_the_next_calls(busy_slot: str):
    client = HttpMemoryClient(
        httpx.AsyncClient(base_url=busy_slot, timeout=DEADLINE), owns_client=True, deadline=DEADLINE
    )
    try:
        fact = FactIn(subject_type="user", subject_id="me", fact_type="preference", content="x")
        with pytest.raises(AlmanacError) as refused:
            await client.write_fact(fact)
        assert refused.value.status_code == 503
        assert "being written by another request" in refused.value.message
        # Another client's read, right after: the Gateway answers it.
        assert await client.facts(FactsQuery()) == []
    finally:
        await client.close()


async def test_a_gateway_that_does_not_answer_is_not_asked_again_within_the_deadline():
    # Nothing listens on this port: refused at once, then refused without asking.
    client = HttpMemoryClient(
        httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=DEADLINE),
        owns_client=True,
        deadline=DEADLINE,
    )
    try:
        with pytest.raises(AlmanacError, match="unreachable"):
            await client.facts(FactsQuery())
        with pytest.raises(AlmanacError, match="not asked again yet"):
            await client.facts(FactsQuery())
    finally:
        await client.close()
