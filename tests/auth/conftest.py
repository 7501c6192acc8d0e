"""Clients for auth tests: one app in the test's transaction, reached with various keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client

KEYS = "/api/v1/auth/keys"


@pytest.fixture
def auth_app(state: AppState, db_session: AsyncSession) -> FastAPI:
    return app_in_transaction(state, db_session)


@pytest.fixture
async def admin(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(auth_app) as c:
        yield c


@pytest.fixture
async def anon(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(auth_app, key=None) as c:
        yield c


KeyMaker = Callable[[str, str], Awaitable[str]]


@pytest.fixture
def make_key(admin: httpx.AsyncClient) -> KeyMaker:
    """Create a key through the admin API; returns the key text."""

    async def make(name: str, scope: str) -> str:
        r = await admin.post(KEYS, json={"name": name, "scope": scope})
        assert r.status_code == 201, r.text
        key: str = r.json()["key"]
        return key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
