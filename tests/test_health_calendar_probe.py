"""A remote calendar that accepts requests and never answers: /health probes it once at a
time. Each probe's worker thread outlives its /health (a thread cannot be cancelled), so a
monitor polling /health must not start one more hung thread per poll (they would fill the
default executor that embeddings and the scheduler's solver share)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from almanac.config import CalDAVCalendarSettings
from almanac.health import HEALTH_DEADLINE_SECONDS, check_health
from almanac.state import AppState
from tests.doubles.loopback import JSONHandler, Loopback

_answer = threading.Event()


class _Silent(JSONHandler):
    """Counts requests, and answers none until `_answer` is set."""

    seen = 0

    def _hang(self) -> None:
        type(self).seen += 1
        _answer.wait(15)
        self._send(503, {})

    do_PROPFIND = do_GET = do_OPTIONS = do_REPORT = _hang  # noqa: N815 (http.server names)


@pytest.fixture
def silent_calendar(state: AppState) -> Iterator[str]:
    _answer.clear()
    _Silent.seen = 0
    loop = Loopback(_Silent, "silent-caldav")
    before = state.settings.calendar
    state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=loop.base_url.removesuffix("/v1") + "/me/work/"
    )
    state.probes.clear()
    try:
        yield loop.base_url
    finally:
        _answer.set()
        state.settings.calendar = before
        state.probes.clear()
        loop.close()


async def test_a_silent_calendar_is_probed_once_however_often_health_is_asked(
    state: AppState, silent_calendar: str
):
    polls = [check_health(state, ["memory", "planner"]) for _ in range(3)]
    answers = await asyncio.gather(*polls)
    for health in answers:
        assert health.dependencies["calendar"].status == "degraded"
    assert _Silent.seen == 1, f"{_Silent.seen} hung probes for {len(polls)} polls"
    more = await check_health(state, ["memory", "planner"])  # while the probe still hangs
    assert more.dependencies["calendar"].status == "degraded"
    assert _Silent.seen == 1
    _answer.set()
    await asyncio.sleep(0.2)  # the hung thread ends
    assert HEALTH_DEADLINE_SECONDS < 15
