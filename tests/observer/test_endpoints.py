"""The Observer's HTTP API: validation names the field; a reflection round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event
from tests.observer.conftest import fixture_week

BASE = "/api/v1/observer"


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("POST", "/reflect?mode=monthly", "mode"),
        ("POST", "/reflect?mode=daily&date=2026-13-01", "date"),
        ("POST", "/reflect?mode=weekly&date=yesterday", "date"),
        ("GET", "/reflections?mode=hourly", "mode"),
        ("GET", "/reflections?limit=0", "limit"),
        ("POST", "/extract-facts", "event_id"),
        ("POST", "/extract-facts?event_id=0", "event_id"),
        ("GET", "/fact-decisions?event_id=abc", "event_id"),
        ("GET", "/reflections/0", "reflection_id"),
        # A misspelt parameter reflected on today instead of the day asked for.
        ("POST", "/reflect?mode=weekly&day=2026-11-10", "day"),
        ("POST", "/reflect?modus=weekly", "modus"),
        # A filter these lists do not have listed everything as if filtered: every
        # client's slipped task titles for ?client_id=101.
        ("GET", "/reflections?client_id=101", "client_id"),
        ("GET", "/fact-decisions?event=5", "event"),
        # Patterns take no parameters: every client's and workflow's figures came back as
        # if filtered to client 101 or workflow 3.
        ("GET", "/patterns?client_id=101", "client_id"),
        ("GET", "/patterns?workflow_id=3", "workflow_id"),
        # Given twice, the last one won silently.
        ("POST", "/reflect?mode=daily&mode=weekly", "mode"),
        ("POST", "/reflect?date=2026-11-10&date=2026-11-17", "date"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient, method: str, url: str, field: str
) -> None:
    r = await api.request(method, BASE + url)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_unknown_ids_are_404(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{BASE}/reflections/999999")).status_code == 404
    assert (await api.post(f"{BASE}/extract-facts?event_id=999999")).status_code == 404


async def test_reflect_list_get_and_patterns(
    api: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await fixture_week(db_session)
    r = await api.post(f"{BASE}/reflect", params={"mode": "weekly", "date": "2026-11-12"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["mode"], body["period_start"], body["period_end"]) == (
        "weekly",
        "2026-11-09",
        "2026-11-15",
    )
    assert body["report"]["numbers"]["tasks_planned"] == 5
    again = await api.post(f"{BASE}/reflect", params={"mode": "weekly", "date": "2026-11-09"})
    assert again.json()["id"] == body["id"]
    listed = (await api.get(f"{BASE}/reflections", params={"mode": "weekly"})).json()
    assert [x["id"] for x in listed] == [body["id"]]
    assert (await api.get(f"{BASE}/reflections", params={"mode": "daily"})).json() == []
    one = await api.get(f"{BASE}/reflections/{body['id']}")
    assert one.status_code == 200 and one.json()["report"] == again.json()["report"]
    assert (await api.get(f"{BASE}/patterns")).json() == []


async def test_reflect_defaults_to_today_daily(api: httpx.AsyncClient) -> None:
    before = datetime.now(UTC).date()
    r = await api.post(f"{BASE}/reflect")
    after = datetime.now(UTC).date()
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "daily"
    assert r.json()["period_start"] in {before.isoformat(), after.isoformat()}
    assert r.json()["report"]["numbers"]["tasks_planned"] == 0


async def test_extract_facts_and_list_decisions(
    api: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    ev = Event(
        event_type="memory",
        event_source="user",
        content="Acme pays invoices within 45 days.",
        salience_score=0.8,
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
        metadata_={"subject_type": "client", "subject_id": "9", "fact_type": "pattern"},
    )
    db_session.add(ev)
    await db_session.flush()
    r = await api.post(f"{BASE}/extract-facts", params={"event_id": ev.id})
    assert r.status_code == 200, r.text
    assert [d["decision"] for d in r.json()["decisions"]] == ["added"]
    decisions = (await api.get(f"{BASE}/fact-decisions", params={"event_id": ev.id})).json()
    assert [(d["source"], d["decision"], d["event_id"]) for d in decisions] == [
        ("metadata", "added", ev.id)
    ]
    again = (await api.post(f"{BASE}/extract-facts", params={"event_id": ev.id})).json()
    assert again["already_extracted"] is True


async def test_mode_and_date_may_come_as_a_json_body(
    api: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Sent as JSON they were ignored: a daily reflection on today answered 200.
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    r = await api.post(f"{BASE}/reflect", json={"mode": "weekly", "date": day.isoformat()})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["mode"] == "weekly"
    assert out["period_start"] == (day - timedelta(days=day.weekday())).isoformat()
    same = await api.post(f"{BASE}/reflect?mode=weekly", json={"date": day.isoformat()})
    assert same.status_code == 200 and same.json()["id"] == out["id"]
    clash = await api.post(f"{BASE}/reflect?mode=daily", json={"mode": "weekly"})
    assert clash.status_code == 422, clash.text
    assert [e["field"] for e in clash.json()["errors"]] == ["mode"]
    for body, field in (({"mode": "monthly"}, "mode"), ({"day": "2026-11-10"}, "day")):
        bad = await api.post(f"{BASE}/reflect", json=body)
        assert bad.status_code == 422, bad.text
        assert [e["field"] for e in bad.json()["errors"]] == [field]
    plain = await api.post(f"{BASE}/reflect")
    assert plain.status_code == 200 and plain.json()["mode"] == "daily"


async def test_every_decision_and_reflection_can_be_paged_to(
    api: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """Fact decisions list oldest first and at most 1,000 at once, reflections at most 200:
    without an offset, the newest decisions (and last year's reflections) could not be
    read at all (`?offset=` was a 422)."""
    from datetime import date

    from almanac.models import FactDecision, Reflection

    rows = [FactDecision(source="metadata", proposal={"n": n}, decision="added") for n in range(5)]
    days = [date(2026, 1, 5) + timedelta(days=n) for n in range(5)]
    reflections = [
        Reflection(mode="daily", period_start=d, period_end=d, timezone="UTC", report={})
        for d in days
    ]
    db_session.add_all([*rows, *reflections])
    await db_session.flush()
    seen = []
    for offset in (0, 2, 4):
        r = await api.get(f"{BASE}/fact-decisions", params={"limit": 2, "offset": offset})
        assert r.status_code == 200, r.text
        seen += [d["id"] for d in r.json()]
    assert seen == [row.id for row in rows]
    r = await api.get(f"{BASE}/reflections", params={"limit": 3, "offset": 3})
    assert r.status_code == 200, r.text
    assert [x["period_start"] for x in r.json()] == [d.isoformat() for d in days[1::-1]]
    r = await api.get(f"{BASE}/fact-decisions", params={"offset": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "offset", r.text
