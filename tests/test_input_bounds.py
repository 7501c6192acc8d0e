"""Every router answers out-of-range input with a 422 naming the field, and writes nothing.

Each case here was a 500 (or an accepted, poisoning row) before the shared types of
almanac.types bounded datetimes, strings, integers, offsets and metadata."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event, Fact

FAR = "9999-12-31T23:59:59-05:00"
ANCIENT = "0001-01-01T00:00:00Z"
BIG32 = 2**31
BIG64 = 2**63
NUL = "a\x00b"


def raw(body: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, as a hostile client sends them.
    return json.dumps(body, ensure_ascii=True).encode()


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


CASES: list[tuple[str, str, dict[str, Any], Any, str]] = [
    # method, path, query params, JSON body, the field the problem must name
    # -- datetimes and dates in range -------------------------------------------------
    ("POST", "/api/v1/observer/reflect", {"date": "0001-01-01"}, None, "date"),
    ("POST", "/api/v1/observer/reflect", {"mode": "weekly", "date": "9999-12-31"}, None, "date"),
    ("POST", "/api/v1/memory/remember", {}, {"content": "x", "expires_at": FAR}, "expires_at"),
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "occurred_at": ANCIENT},
        "occurred_at",
    ),
    ("GET", "/api/v1/memory/recall", {"query": "x", "since": ANCIENT}, None, "since"),
    ("GET", "/api/v1/memory/recall", {"query": "x", "as_of": FAR}, None, "as_of"),
    ("GET", "/api/v1/memory/facts", {"as_of": FAR}, None, "as_of"),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "deadline": FAR}, "deadline"),
    ("GET", "/api/v1/planner/llm/usage", {"since": ANCIENT}, None, "since"),
    ("GET", "/api/v1/scheduler/calendar", {"start_date": "0001-01-01"}, None, "start_date"),
    # A number is no time with an offset: pydantic's lax mode read it as a Unix time, so
    # `since=20261202` filtered from 1970-08-23 and `start: -1` stored an event from 1969.
    ("GET", "/api/v1/memory/recall", {"query": "x", "since": "20261202"}, None, "since"),
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "occurred_at": 1764669600},
        "occurred_at",
    ),
    (
        "POST",
        "/api/v1/calendar/events",
        {},
        {"title": "x", "start": -1, "end": "2026-12-02T11:00:00Z"},
        "start",
    ),
    ("PATCH", "/api/v1/planner/tasks/1", {}, {"deadline": 1.8e9}, "deadline"),
    ("GET", "/api/v1/scheduler/calendar", {"start_date": "1764633600"}, None, "start_date"),
    # The local day's end was computed in Python before any bound: an OverflowError, a 500.
    ("GET", "/api/v1/planner/tasks", {"on": "9999-12-31"}, None, "on"),
    (
        "POST",
        "/api/v1/scheduler/schedule",
        {},
        {"plan_id": 1, "start_date": "9999-12-27"},
        "start_date",
    ),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "0001-01-01", "capacity_hrs": 30},
        "week_start",
    ),
    (
        "GET",
        "/api/v1/calendar/events",
        {"start": ANCIENT, "end": "2026-01-01T00:00:00Z"},
        None,
        "start",
    ),
    ("POST", "/api/v1/calendar/import", {"start": ANCIENT}, None, "start"),
    # -- strings Postgres cannot store ------------------------------------------------
    ("POST", "/api/v1/memory/remember", {}, {"content": NUL}, "content"),
    ("POST", "/api/v1/memory/remember", {}, {"content": "x", "metadata": {"k": NUL}}, "metadata"),
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "metadata": {"\ud800": 1}},
        "metadata",
    ),
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "metadata": {"k": ["\udfff"]}},
        "metadata",
    ),
    ("POST", "/api/v1/memory/remember", {}, {"content": "x\ud800"}, "content"),
    ("POST", "/api/v1/memory/remember/batch", {}, {"items": [{"content": NUL}]}, "items"),
    ("GET", "/api/v1/memory/recall", {"query": NUL}, None, "query"),
    ("GET", "/api/v1/memory/recall", {"query": "x", "session_id": NUL}, None, "session_id"),
    ("GET", "/api/v1/memory/facts", {"subject_id": NUL}, None, "subject_id"),
    (
        "POST",
        "/api/v1/memory/facts",
        {},
        {"subject_type": "user", "subject_id": NUL, "fact_type": "preference", "content": "x"},
        "subject_id",
    ),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan \x00 it"}, "intent"),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "context": "\ud800"}, "context"),
    ("POST", "/api/v1/planner/workflows", {}, {"name": NUL, "steps": []}, "name"),
    ("GET", "/api/v1/planner/workflows", {"q": NUL}, None, "q"),
    (
        "POST",
        "/api/v1/calendar/events",
        {},
        {"title": "a\ud800", "start": "2026-01-01T09:00:00Z", "end": "2026-01-01T10:00:00Z"},
        "title",
    ),
    ("POST", "/api/v1/scheduler/replan", {}, {"plan_id": 1, "reason": NUL}, "reason"),
    ("GET", "/api/v1/jobs", {"task": NUL}, None, "task"),
    ("GET", "/oauth/callback", {"code": NUL}, None, "code"),
    # Both reached Postgres with the NUL: a 500 from the driver, or a 422 naming "body".
    ("GET", "/api/v1/memory/context", {"query": NUL}, None, "query"),
    ("DELETE", "/api/v1/auth/keys/a%00b", {}, None, "name"),
    # -- metadata size and depth ------------------------------------------------------
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "metadata": {"k": "y" * 17_000}},
        "metadata",
    ),
    ("POST", "/api/v1/memory/remember", {}, {"content": "x", "metadata": deep(9)}, "metadata"),
    (
        "POST",
        "/api/v1/planner/workflows",
        {},
        {"name": "w", "steps": [], "metadata": {"k": "y" * 17_000}},
        "metadata",
    ),
    # -- integers within their columns, bounded offsets -------------------------------
    ("POST", "/api/v1/memory/remember", {}, {"content": "x", "client_id": BIG32}, "client_id"),
    ("GET", "/api/v1/memory/recall", {"query": "x", "client_id": BIG32}, None, "client_id"),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "client_id": BIG32}, "client_id"),
    (
        "POST",
        "/api/v1/planner/plan",
        {},
        {"intent": "plan it", "engagement_id": BIG32},
        "engagement_id",
    ),
    ("GET", "/api/v1/planner/plans", {"offset": BIG64}, None, "offset"),
    ("GET", "/api/v1/planner/plans", {"client_id": BIG32}, None, "client_id"),
    ("GET", "/api/v1/scheduler/sprints", {"offset": BIG64}, None, "offset"),
    ("GET", "/api/v1/planner/workflows", {"offset": BIG64}, None, "offset"),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "2026-11-23", "capacity_hrs": 30, "client_id": BIG32},
        "client_id",
    ),
    # -- JSON true/false is no number (pydantic's lax mode read them as 1/0) ------------
    # A memory stored for client 1, a plan drafted from client 1's history, plan 1
    # scheduled: types.NOT_BOOL refused it for tasks and runs only.
    ("POST", "/api/v1/memory/remember", {}, {"content": "x", "client_id": True}, "client_id"),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "client_id": True}, "client_id"),
    ("POST", "/api/v1/planner/plan", {}, {"intent": "plan it", "workflow_id": True}, "workflow_id"),
    ("POST", "/api/v1/scheduler/schedule", {}, {"plan_id": True}, "plan_id"),
    (
        "POST",
        "/api/v1/scheduler/schedule",
        {},
        {"plan_id": 1, "horizon_days": True},
        "horizon_days",
    ),
    ("POST", "/api/v1/scheduler/replan", {}, {"plan_id": True}, "plan_id"),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "2026-11-23", "capacity_hrs": 30, "billable_target_pct": True},
        "billable_target_pct",
    ),
    (
        "POST",
        "/api/v1/scheduler/sprints",
        {},
        {"week_start": "2026-11-23", "capacity_hrs": 30, "client_id": True},
        "client_id",
    ),
    # The remaining numbers: a memory or fact stored at salience 1.0 (recall's boost at
    # its highest), a retention run over 1 day's history (deleting all but a day's
    # events), an LLM operation at temperature 1 or 1 token, a preview's run 1 written.
    (
        "POST",
        "/api/v1/memory/remember",
        {},
        {"content": "x", "salience_score": True},
        "salience_score",
    ),
    (
        "POST",
        "/api/v1/memory/facts",
        {},
        {
            "subject_type": "user",
            "subject_id": "me",
            "fact_type": "preference",
            "content": "x",
            "salience_score": True,
        },
        "salience_score",
    ),
    (
        "POST",
        "/api/v1/memory/facts/1/supersede",
        {},
        {"content": "x", "salience_score": False},
        "salience_score",
    ),
    ("POST", "/api/v1/memory/retention", {}, {"days": True, "dry_run": True}, "days"),
    ("PUT", "/api/v1/planner/llm/operations/planning", {}, {"temperature": True}, "temperature"),
    ("PUT", "/api/v1/planner/llm/operations/planning", {}, {"max_tokens": True}, "max_tokens"),
    ("POST", "/api/v1/scheduler/schedule", {}, {"plan_id": 1, "run_id": True}, "run_id"),
    # Already an IntId (NOT_BOOL since the ids change): kept here so it stays refused.
    ("PUT", "/api/v1/planner/plans/1", {}, {"plan_title": "x", "version": True}, "version"),
]


@pytest.mark.parametrize(("method", "path", "params", "body", "field"), CASES)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    method: str,
    path: str,
    params: dict[str, Any],
    body: Any,
    field: str,
) -> None:
    headers = {"content-type": "application/json"} if body is not None else {}
    content = raw(body) if body is not None else None
    r = await client.request(method, path, params=params, content=content, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == field or f.startswith((field + ".", field + "[")) for f in fields), fields
    for model in (Event, Fact):
        assert await db_session.scalar(select(func.count()).select_from(model)) == 0
    assert await db_session.scalar(text("SELECT count(*) FROM reflections")) == 0


async def test_sprint_update_refuses_null_for_required_numbers(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/scheduler/sprints", json={"week_start": "2026-11-23", "capacity_hrs": 30}
    )
    assert r.status_code == 201, r.text
    sprint = r.json()["id"]
    for field in ("billable_target_pct", "capacity_hrs"):
        r = await client.put(f"/api/v1/scheduler/sprints/{sprint}", json={field: None})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
    r = await client.put(f"/api/v1/scheduler/sprints/{sprint}", json={"runway_weeks": None})
    assert r.status_code == 200, r.text
    assert r.json()["billable_target_pct"] == 60.0


async def test_in_range_values_are_still_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/memory/remember",
        json={
            "content": "Kept until the next century",
            "client_id": BIG32 - 1,
            "expires_at": "2199-12-31T23:59:59-05:00",
            "metadata": {"note": "é ✓ 😀", "nested": deep(7)},
        },
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "field", "message"),
    [
        (
            "GET",
            "/api/v1/memory/recall",
            {"query": "q" * 2001},
            None,
            "query",
            "must be at most 2000 characters long",
        ),
        # One character, not "1 characters".
        (
            "GET",
            "/api/v1/memory/recall",
            {"query": ""},
            None,
            "query",
            "must be at least 1 character long",
        ),
        (
            "GET",
            "/api/v1/planner/workflows",
            {"q": "w" * 256},
            None,
            "q",
            "must be at most 255 characters long",
        ),
    ],
)
async def test_a_string_too_long_or_short_is_counted_in_characters(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    params: dict[str, Any],
    body: Any,
    field: str,
    message: str,
) -> None:
    """Bounds written after the NUL check were worded "items after validation"."""
    r = await client.request(method, path, params=params, json=body)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors[field] == message, errors
