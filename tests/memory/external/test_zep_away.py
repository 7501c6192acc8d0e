"""Zep away for longer than a job's attempts (down, rate limited, failing): its jobs are
retried until it serves again, never dropped; an answer refusing the request ends them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from procrastinate.jobs import Job
from pydantic import SecretStr

from almanac.config import ZepSettings
from almanac.memory import tasks
from almanac.memory.external.zep import ZepMemory
from tests.doubles.zep_cloud import FakeZep
from tests.memory.external.test_zep import closed_port_url

JOBS = ["zep_send", "zep_fact", "zep_fact_dates", "zep_forget"]


async def _failure(base_url: str) -> Exception:
    """What the provider raises to a job when Zep answers as it does now."""
    settings = ZepSettings(api_key=SecretStr("zep-test-key"), base_url=base_url, timeout_seconds=5)
    provider = ZepMemory(settings)
    try:
        with pytest.raises(Exception) as caught:
            await provider.add_fact("almanac-owner", 1, "Initech pays late", datetime.now(UTC))
        return caught.value
    finally:
        await provider.close()


def _worn(task: str) -> tuple[object, Job]:
    """The task's retry strategy, and a job of it with every attempt spent."""
    strategy = tasks.blueprint.tasks[task].retry_strategy
    assert strategy is not None
    spent = Job(
        id=1,
        queue="zep",
        lock=None,
        queueing_lock=None,
        task_name=task,
        attempts=strategy.max_attempts,  # type: ignore[attr-defined]
    )
    return strategy, spent


@pytest.mark.parametrize("task", JOBS)
@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_job_meeting_zep_rate_limited_or_failing_is_retried_past_its_attempts(
    zep: FakeZep, task: str, status: int
) -> None:
    """A deletion of a forgotten subject's data ended after about 3 hours of a Zep outage
    (a send after 20 minutes): the data stayed in Zep, and with no deletion queued any
    more, recall and the fact import brought it back."""
    zep.fail_status = status
    failure = await _failure(zep.base_url)
    assert f"zep answered {status}" in str(failure)
    strategy, spent = _worn(task)
    decision = strategy.get_retry_decision(exception=failure, job=spent)  # type: ignore[attr-defined]
    assert decision is not None and decision.retry_at is not None


@pytest.mark.parametrize("task", JOBS)
async def test_a_job_meeting_zep_unreachable_is_retried_past_its_attempts(task: str) -> None:
    failure = await _failure(closed_port_url())
    strategy, spent = _worn(task)
    assert strategy.get_retry_decision(exception=failure, job=spent) is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize("task", JOBS)
async def test_a_job_zep_refuses_ends_once_its_attempts_are_spent(zep: FakeZep, task: str) -> None:
    zep.fail_status = 400  # the request itself: asking again cannot help
    failure = await _failure(zep.base_url)
    strategy, spent = _worn(task)
    assert strategy.get_retry_decision(exception=failure, job=spent) is None  # type: ignore[attr-defined]
