"""Request helpers shared by the ontology tests."""

from __future__ import annotations

from typing import Any

import httpx

API = "/api/v1/planner"


def task(
    key: str, hours: float = 1.0, deps: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": key,
        "title": f"Task {key}",
        "estimate_hours": hours,
        "depends_on": deps or [],
        **extra,
    }


def steps(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    """One step holding `tasks` (default: a -> b, 1.5 h + 2.5 h)."""
    chosen = list(tasks) or [task("a", 1.5), task("b", 2.5, ["a"], billable=True, priority=3)]
    return [{"id": "s1", "title": "Step one", "tasks": chosen}]


async def create_workflow(client: httpx.AsyncClient, name: str = "Flow", **body: Any) -> Any:
    r = await client.post(f"{API}/workflows", json={"name": name, "steps": steps(), **body})
    assert r.status_code == 201, r.text
    return r.json()


def fields(response: httpx.Response) -> list[str]:
    """The fields named by a problem+json response."""
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json().get("errors", [])]
