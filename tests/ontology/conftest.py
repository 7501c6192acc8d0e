"""The app with the ontology router, over HTTP (until app.py includes the router itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.app import create_app
from almanac.db.uow import UnitOfWork
from almanac.deps import get_state, get_uow
from almanac.ontology.endpoints import router
from almanac.state import AppState
from tests.ontology.helpers import API


def _with_ontology(app: FastAPI) -> FastAPI:
    if not any(getattr(r, "path", "") == f"{API}/workflows" for r in app.routes):
        app.include_router(router)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://almanac.test")


@pytest.fixture
async def client(state: AppState, db_session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The full app over HTTP, with every request inside the test's transaction."""
    app = _with_ontology(create_app(state=state))

    async def test_uow() -> AsyncIterator[UnitOfWork]:
        unit = UnitOfWork(db_session)
        try:
            yield unit
        except BaseException:
            await unit.rollback()
            raise
        await unit.commit()

    app.dependency_overrides[get_state] = lambda: state
    app.dependency_overrides[get_uow] = test_uow
    async with _client(app) as c:
        yield c


@pytest.fixture
async def committed_client(committed_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    """Real commits, one transaction per request; tables are emptied afterwards."""
    app = _with_ontology(create_app(state=committed_state))
    app.dependency_overrides[get_state] = lambda: committed_state
    async with _client(app) as c:
        yield c
