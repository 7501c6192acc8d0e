"""List endpoints take each filter once and no filter they do not know: a repeated filter
given two values, or a misspelt one, is a 422 naming it, never a 200 filtered by the last
value or not at all (as GET /observer/reflections and POST /observer/reflect answer)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Base, Task
from tests.scheduler.conftest import make_plan

API = "/api/v1/planner"

_LISTS = {
    "plans": ("/plans", "status", ("draft", "approved")),
    "tasks": ("/tasks", "status", ("todo", "done")),
    "workflows": ("/workflows", "capability", ("seo", "ads")),
    "blueprints": ("/blueprints", "offer_id", ("1", "2")),
    "templates": ("/process-templates", "status", ("active", "paused")),
    "runs": ("/execution-runs", "status", ("in_progress", "completed")),
}


@pytest.mark.parametrize("name", sorted(_LISTS))
async def test_a_filter_given_twice_differently_is_a_422(client: httpx.AsyncClient, name: str):
    path, field, (a, b) = _LISTS[name]
    r = await client.get(f"{API}{path}?{field}={a}&{field}={b}")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    # The same value twice says one thing.
    r = await client.get(f"{API}{path}?{field}={a}&{field}={a}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("name", sorted(_LISTS))
async def test_a_filter_the_list_does_not_take_is_a_422(client: httpx.AsyncClient, name: str):
    # `?client_id=7` on workflows listed every workflow, as if filtered.
    r = await client.get(f"{API}{_LISTS[name][0]}", params={"clinet_id": "7", "limit": 5})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "clinet_id"


@pytest.mark.parametrize("path", ["/reflections", "/fact-decisions"])
async def test_the_observers_lists_refuse_a_filter_given_twice_too(
    client: httpx.AsyncClient, path: str
):
    # They refused an unknown parameter, but `?limit=5&limit=6` listed by the last value.
    r = await client.get(f"/api/v1/observer{path}?limit=5&limit=6")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "limit"
    r = await client.get(f"/api/v1/observer{path}?limit=5&limit=5")
    assert r.status_code == 200, r.text


# Routes that had no check before: a misspelt or repeated parameter answered 200 as if it
# had been read (`/jobs?stauts=failed` listed every job, `/scheduler/sprints?limit=5&limit=9`
# the last limit). Each with parameters it does take, and one of them to repeat.
_UNCHECKED_BEFORE = {
    "jobs": ("/api/v1/jobs", {"status": "failed", "limit": "5"}, "limit"),
    "keys": ("/api/v1/auth/keys", {"include_revoked": "true"}, "include_revoked"),
    "sprints": ("/api/v1/scheduler/sprints", {"limit": "5", "offset": "0"}, "limit"),
    "calendar": ("/api/v1/scheduler/calendar", {"start_date": "2026-12-01"}, "start_date"),
    "events": (
        "/api/v1/calendar/events",
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
        "start",
    ),
    "llm-usage": ("/api/v1/planner/llm/usage", {"since": "2026-01-01T00:00:00Z"}, "since"),
}


@pytest.mark.parametrize("name", sorted(_UNCHECKED_BEFORE))
async def test_routes_unchecked_before_refuse_an_unknown_or_repeated_parameter(
    client: httpx.AsyncClient, name: str
):
    path, known, repeated = _UNCHECKED_BEFORE[name]
    r = await client.get(path, params=known)
    assert r.status_code == 200, r.text
    r = await client.get(path, params={**known, "clinet_id": "7"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "clinet_id", "message": r.json()["detail"]},
    ]
    # The answer says what the route does take, read from the route itself.
    assert all(k in r.json()["detail"] for k in known), r.json()["detail"]
    other = [(k, v) for k, v in known.items() if k != repeated]
    r = await client.get(path, params=[*other, (repeated, known[repeated]), (repeated, "1")])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == repeated
    r = await client.get(path, params=[*other, *[(repeated, known[repeated])] * 2])
    assert r.status_code == 200, r.text


async def test_a_parameter_declared_as_a_list_may_repeat(client: httpx.AsyncClient):
    kinds = [("kinds", "event"), ("kinds", "fact")]
    r = await client.get("/api/v1/memory/recall", params=[("query", "anything"), *kinds])
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/memory/recall", params=[("query", "a"), ("query", "b")])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "query"


async def test_a_short_name_is_taken_alone_and_refused_beside_its_field(
    client: httpx.AsyncClient,
):
    r = await client.get("/api/v1/planner/tasks", params={"plan": "1", "client": "2"})
    assert r.status_code == 200, r.text
    # Both name one filter: which one the list used was the model's choice.
    r = await client.get("/api/v1/planner/tasks", params={"plan": "1", "plan_id": "2"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "plan"


async def test_openapi_still_documents_the_checked_parameters(client: httpx.AsyncClient):
    doc = (await client.get("/openapi.json")).json()

    def names(path: str) -> set[str]:
        return {p["name"] for p in doc["paths"][path]["get"].get("parameters", [])}

    assert names("/api/v1/jobs") == {"status", "task", "limit"}
    assert names("/api/v1/scheduler/sprints") == {"limit", "offset"}
    assert {"plan_id", "client_id", "status", "due_before", "on", "limit", "offset"} <= names(
        "/api/v1/planner/tasks"
    )
    assert {"query", "kinds", "for_client"} <= names("/api/v1/memory/recall")


# Where a caller other than Almanac's clients sets the query: Google appends what it likes
# to the OAuth callback (`scope`, `authuser`, `prompt`), and a calendar app polls the feed
# address as pasted. A refusal there breaks sign-in or empties a subscription silently.
_UNCHECKED = {"/oauth/callback", "/api/v1/calendar/feed.ics"}


async def _rows(session: AsyncSession) -> dict[str, int]:
    """How many rows each table holds (inside the test's transaction)."""
    counts = {}
    for table in Base.metadata.sorted_tables:
        counts[table.name] = (
            await session.execute(select(func.count()).select_from(table))
        ).scalar_one()
    return counts


async def test_every_operation_refuses_a_query_parameter_it_does_not_take(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    """Writes too: `POST /planner/plan?dry_run=1` planned and stored, as if not asked."""
    doc = (await client.get("/openapi.json")).json()
    marked = {p for p, item in doc["paths"].items() for op in item.values() if "x-open-query" in op}
    assert marked == _UNCHECKED  # their OpenAPI entries say so
    before = await _rows(db_session)
    unchecked, tried = [], 0
    for path, item in doc["paths"].items():
        if path in _UNCHECKED:
            continue
        for method in item:
            # The check runs before the route's own parameters and body are read: dummy
            # ids and no body will do.
            url = re.sub(r"\{[^}]+\}", "1", path)
            r = await client.request(method.upper(), url, params={"zzz": "1"})
            tried += 1
            if r.status_code != 422 or r.json()["errors"] != [
                {"field": "zzz", "message": r.json()["detail"]}
            ]:
                unchecked.append((method, path, r.status_code))
    assert unchecked == []
    for path in _UNCHECKED:  # their callers' own parameters are let be
        r = await client.get(path, params={"zzz": "1", "authuser": "0"})
        assert "zzz" not in r.text and "authuser" not in r.text, (path, r.text)
    # The dashboard's pages are no operations: their script reads the address itself.
    r = await client.get("/ui/signin", params={"next": "/ui/week", "ended": "1"})
    assert r.status_code == 200, r.text
    r = await client.get("/ui/memory", params={"q": "Lisbon"})
    assert r.status_code == 200, r.text
    assert tried >= 90  # every method of every path: not a loop that ran past nothing
    assert await _rows(db_session) == before


async def test_a_write_given_a_parameter_it_does_not_take_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession
):
    # Each of these answered 2xx and did the plain write: stored, deleted, edited.
    before = await _rows(db_session)
    body = {"content": "Based in Lisbon"}
    r = await client.post("/api/v1/memory/remember", params={"dry_run": "1"}, json=body)
    assert r.status_code == 422, r.text
    assert "dry_run" in r.json()["detail"]
    assert await _rows(db_session) == before
    event = (await client.post("/api/v1/memory/remember", json=body)).json()
    r = await client.delete(f"/api/v1/memory/events/{event['id']}", params={"hard": "true"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "hard"
    assert (await client.get(f"/api/v1/memory/events/{event['id']}")).status_code == 200
    plan = await make_plan(db_session, [{"key": "write", "estimate_hours": 2.0}])
    task = (await db_session.scalars(select(Task.id).where(Task.plan_id == plan.id))).one()
    url = f"/api/v1/planner/tasks/{task}"
    r = await client.patch(url, params={"notify": "no"}, json={"title": "Read"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "notify"
    assert (await client.get(url)).json()["title"] != "Read"
    # A write that takes no parameter says so.
    assert "takes no query parameters" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/memory/recall?query=x"])
async def test_a_query_parameter_without_a_name_is_a_422_naming_the_query(
    client: httpx.AsyncClient, path: str
):
    """`?=1` was a 422 whose problem named no field (an empty name dropped the list)."""
    r = await client.get(path + ("&" if "?" in path else "?") + "=1")
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"field": "query", "message": "a query parameter has no name (`?=...`)"}
    ]
