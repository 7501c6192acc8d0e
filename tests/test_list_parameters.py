"""List endpoints take each filter once and no filter they do not know: a repeated filter
given two values, or a misspelt one, is a 422 naming it, never a 200 filtered by the last
value or not at all (as GET /observer/reflections and POST /observer/reflect answer)."""

from __future__ import annotations

import httpx
import pytest

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
