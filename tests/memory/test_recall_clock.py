"""Recall's validity and expiry read the app's clock, taken once per recall, as writes and
the facts listing do: with the app's host a few seconds ahead of the database's, a fact the
app just stamped as valid from "now" was hidden from recall (the database's now was before
it), while the listing showed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event

AHEAD = timedelta(seconds=3)
RECALL = "/api/v1/memory/recall"


class AheadClock(datetime):
    """The app's host, whose clock runs ahead of the database's."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
        return datetime.now(tz) + AHEAD


@pytest.fixture
def app_clock_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every module of the gateway that reads the clock (`raising=False`: one that did not
    # read it before is set all the same).
    for module in ("facts", "local_recall", "repository", "service"):
        monkeypatch.setattr(f"almanac.memory.{module}.datetime", AheadClock, raising=False)


async def db_now(session: AsyncSession) -> datetime:
    return (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()


async def recalled(client: httpx.AsyncClient, query: str, kinds: str) -> list[str]:
    r = await client.get(RECALL, params={"query": query, "kinds": kinds, "floor": "false"})
    assert r.status_code == 200, r.text
    return [h["content"] for h in r.json()["results"]]


@pytest.mark.usefixtures("app_clock_ahead")
async def test_a_fact_just_written_is_recalled_at_once(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    words = "Invoices to Initech go out on the first Monday"
    body = {"subject_type": "user", "subject_id": "me", "fact_type": "constraint"}
    r = await client.post("/api/v1/memory/facts", json={**body, "content": words})
    assert r.status_code == 201, r.text
    # Stamped by the app's clock: in the database's future.
    valid_from = datetime.fromisoformat(r.json()["fact"]["valid_from"])
    assert valid_from > await db_now(db_session)
    listed = (await client.get("/api/v1/memory/facts", params={"subject_id": "me"})).json()
    assert [f["content"] for f in listed] == [words]
    assert await recalled(client, "Initech invoices", "fact") == [words]


@pytest.mark.usefixtures("app_clock_ahead")
async def test_a_memory_expired_by_the_apps_clock_is_not_recalled(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # Expired a second ago for the app, still live for the database: recall answers by the
    # app's clock, as remember checked the expiry.
    ids = {}
    for content in ("Umbrella ticket closes", "Umbrella ticket stays open"):
        r = await client.post("/api/v1/memory/remember", json={"content": content})
        assert r.status_code == 201, r.text
        ids[content] = r.json()["id"]
    expiry = datetime.now(UTC) + AHEAD - timedelta(seconds=1)
    await db_session.execute(
        update(Event).where(Event.id == ids["Umbrella ticket closes"]).values(expires_at=expiry)
    )
    assert expiry > await db_now(db_session)
    assert await recalled(client, "Umbrella ticket", "event") == ["Umbrella ticket stays open"]
