"""Planner fixtures: a small workflow library in the test's transaction, and an LLM-backed app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.auth.runtime import AuthRuntime
from almanac.llm.base import LLMCallRecord
from almanac.llm.formats import FormatMemory
from almanac.llm.openai_compat import OpenAICompatibleLLM
from almanac.llm.repository import LLMCallRepository
from almanac.models import Workflow
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client, ok
from tests.doubles.openai_chat import FakeChatServer


def task(id: str, title: str, hours: float, *deps: str, billable: bool = True) -> dict[str, Any]:
    return {
        "id": id,
        "title": title,
        "estimate_hours": hours,
        "depends_on": list(deps),
        "billable": billable,
        "priority": 2,
    }


ONBOARDING = [
    {
        "id": "setup",
        "title": "Set up the engagement",
        "tasks": [
            task("contract", "Send contract and invoice", 1.0, billable=False),
            task("kickoff", "Kickoff call with the client", 1.5, "contract"),
        ],
    },
    {
        "id": "access",
        "title": "Access and audit",
        "tasks": [
            task("accounts", "Collect tool access and accounts", 1.0, "kickoff"),
            task("audit", "Audit the current marketing stack", 4.0, "accounts"),
        ],
    },
]

NEWSLETTER = [
    {
        "id": "launch",
        "title": "Launch",
        "tasks": [
            task("platform", "Choose and configure the newsletter platform", 2.0),
            task("template", "Design the email template", 3.0, "platform"),
            task("first-issue", "Write and send the first issue", 4.0, "template"),
        ],
    }
]


async def add_onboarding(api: httpx.AsyncClient, *keywords: str) -> Any:
    """The onboarding workflow added through the API, matched by "onboard a new client" and
    `keywords`."""
    body = {
        "name": "Client onboarding",
        "steps": ONBOARDING,
        "metadata": {"keywords": ["onboard a new client", *keywords]},
    }
    return await ok(await api.post("/api/v1/planner/workflows", json=body), 201)


@pytest.fixture
async def library(db_session: AsyncSession) -> dict[str, Workflow]:
    """Two workflows, rolled back with the test."""
    rows = {
        "onboarding": Workflow(
            name="Client onboarding",
            capability="delivery",
            steps=ONBOARDING,
            metadata_={"keywords": ["onboard a new client", "kickoff", "new engagement"]},
        ),
        "newsletter": Workflow(
            name="Newsletter launch",
            capability="growth",
            steps=NEWSLETTER,
            metadata_={"keywords": ["email newsletter", "launch a newsletter"]},
        ),
    }
    db_session.add_all(rows.values())
    await db_session.flush()
    return rows


class SessionRecorder:
    """Writes LLM call records into the test's transaction, so they roll back with it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.records: list[LLMCallRecord] = []

    async def record(self, record: LLMCallRecord) -> None:
        self.records.append(record)
        await LLMCallRepository(self.session).record(record)


@pytest.fixture
def chat() -> Iterator[FakeChatServer]:
    with FakeChatServer() as server:
        yield server


@pytest.fixture
def recorder(db_session: AsyncSession) -> SessionRecorder:
    return SessionRecorder(db_session)


@pytest.fixture
async def llm_state(
    state: AppState, chat: FakeChatServer, recorder: SessionRecorder
) -> AsyncIterator[AppState]:
    """The app state with an LLM: the real `openai` SDK talking to the chat double."""
    sdk = AsyncOpenAI(base_url=chat.base_url, api_key="sk-test", timeout=5.0)

    async def no_sleep(_: float) -> None:
        return None

    llm = OpenAICompatibleLLM(
        client=sdk,
        model="fake-chat",
        recorder=recorder,
        timeout_seconds=1.0,
        max_retries=2,
        sleep=no_sleep,
        breaker_failures=50,
        formats=FormatMemory(),
    )
    yield replace(state, llm=llm)
    await sdk.close()


@pytest.fixture
async def llm_client(
    llm_state: AppState, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """The full app over HTTP with an LLM configured; requests share the test's transaction."""
    async with http_client(app_in_transaction(llm_state, db_session)) as c:
        yield c


@pytest.fixture
def generous_rate_limits(state: AppState) -> Iterator[None]:
    """For tests that log weeks of work in seconds: far above the per-key write limit."""
    previous = state.auth
    security = state.settings.security.model_copy(
        update={"rate_limit": "100000/minute", "write_rate_limit": "100000/minute"}
    )
    state.auth = AuthRuntime(security, None)
    yield
    state.auth = previous
