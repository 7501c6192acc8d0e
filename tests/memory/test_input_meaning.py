"""Input the Memory Gateway read as something the caller did not mean: a number as a Unix
time, an expiry already past, NaN as a salience, a query with nothing to search for. Each
is now a 422 naming the field and why (nothing written), or, for the query, no results
and the reason, where before it was stored, misread or scored as a perfect match."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import Event, Fact
from tests.memory.test_recall import recall, remember

M = "/api/v1/memory"
FACT = {"subject_type": "user", "subject_id": "me", "fact_type": "preference"}


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _named(r: httpx.Response, field: str) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    named = [e["message"] for e in r.json()["errors"] if e["field"] == field]
    assert named, r.json()
    return str(named[0])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/remember", {"content": "x", "occurred_at": 1_700_000_000}, "occurred_at"),
        ("/remember", {"content": "x", "occurred_at": "1700000000"}, "occurred_at"),
        ("/remember", {"content": "x", "occurred_at": 1.7e9}, "occurred_at"),
        ("/remember", {"content": "x", "expires_at": 4_102_444_800}, "expires_at"),
        (
            "/remember/batch",
            {"items": [{"content": "x"}, {"content": "y", "occurred_at": 1_700_000_000}]},
            "items[1].occurred_at",
        ),
        ("/facts", {**FACT, "content": "Tea", "valid_from": 1_700_000_000}, "valid_from"),
    ],
)
async def test_a_number_is_no_time_in_a_body(
    client: httpx.AsyncClient, db_session: AsyncSession, path: str, body: Any, field: str
) -> None:
    # Lax mode read it as a Unix time: a memory stored as having occurred in November 2023.
    message = _named(await client.post(M + path, json=body), field)
    assert "ISO 8601" in message and "offset" in message, message
    assert await _count(db_session, Event) == 0
    assert await _count(db_session, Fact) == 0


async def test_a_number_is_no_time_in_a_successor_or_a_query(client: httpx.AsyncClient) -> None:
    fact = (await client.post(f"{M}/facts", json={**FACT, "content": "Tea"})).json()["fact"]
    r = await client.post(
        f"{M}/facts/{fact['id']}/supersede", json={"content": "Coffee", "valid_from": 0}
    )
    assert "ISO 8601" in _named(r, "valid_from")
    for name in ("since", "until", "as_of"):
        r = await client.get(f"{M}/recall", params={"query": "tea", name: "1700000000"})
        assert "ISO 8601" in _named(r, name)
    r = await client.get(f"{M}/facts", params={"as_of": "0"})
    assert "ISO 8601" in _named(r, "as_of")
    # The same instants as text are read as ever.
    at = "2023-11-14T22:13:20+00:00"
    r = await client.get(f"{M}/recall", params={"query": "tea", "since": at, "as_of": at})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "item",
    [
        {"expires_at": -timedelta(minutes=5)},
        # An earlier occurred_at let a past expiry through: only "after occurred_at" was asked.
        {"occurred_at": -timedelta(days=3), "expires_at": -timedelta(days=1)},
    ],
)
async def test_an_expiry_already_past_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, item: dict[str, timedelta]
) -> None:
    now = datetime.now(UTC)
    times = {name: (now + offset).isoformat() for name, offset in item.items()}
    body = {"content": "Guest wifi code 7781", **times}
    message = _named(await client.post(f"{M}/remember", json=body), "expires_at")
    assert "future" in message, message
    r = await client.post(f"{M}/remember/batch", json={"items": [{"content": "x"}, body]})
    assert "future" in _named(r, "items[1].expires_at")  # the item named, as a schema error
    assert await _count(db_session, Event) == 0
    # A future expiry is stored, and the memory is there until then.
    body["expires_at"] = (now + timedelta(hours=1)).isoformat()
    stored = await remember(client, **body)
    assert (await client.get(f"{M}/events/{stored}")).status_code == 200


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_salience_nan_or_infinity_says_so(
    client: httpx.AsyncClient, db_session: AsyncSession, literal: str
) -> None:
    # Python's JSON parser takes these literals; NaN's refusal said "less than or equal to 1".
    fact = (await client.post(f"{M}/facts", json={**FACT, "content": "Tea"})).json()["fact"]
    cases = [
        ("/remember", '{"content": "x", "salience_score": %s}', "salience_score"),
        ("/remember/batch", '{"items": [{"content": "x", "salience_score": %s}]}', None),
        ("/facts", json.dumps({**FACT, "content": "Mint"})[:-1] + ', "salience_score": %s}', None),
        (f"/facts/{fact['id']}/supersede", '{"content": "Mint", "salience_score": %s}', None),
    ]
    for path, template, field in cases:
        raw = (template % literal).encode()
        r = await client.post(M + path, content=raw, headers={"content-type": "application/json"})
        name = field or ("items[0].salience_score" if "batch" in path else "salience_score")
        assert _named(r, name) == "must be a finite number, not NaN or Infinity"
    assert await _count(db_session, Event) == 0
    assert await _count(db_session, Fact) == 1


@pytest.mark.parametrize("query", ["😀", "🎉", "\u200b", "\u200b\u200c\u200d", "?!", "👍 ✨"])
async def test_a_query_with_nothing_to_search_for_finds_nothing(
    client: httpx.AsyncClient, query: str
) -> None:
    # A tiny store: the nearest memory to the embedder's empty-text vector stood out from
    # the next, and came back scored 1.0 (or a memory of emoji only, "identical").
    await remember(client, "🎉 party")
    dentist = await remember(client, "Dentist appointment moved to the 3rd")
    for floor in ("true", "false"):
        out = await recall(client, query, floor=floor)
        assert out["results"] == [] and out["no_match"] is True, out
        assert "letter or digit" in out["detail"], out
    # A word beside them is searched as ever.
    out = await recall(client, f"{query} dentist")
    assert [r["id"] for r in out["results"]][:1] == [dentist]
    assert out["detail"] is None


async def test_text_of_only_invisible_characters_is_no_memory_and_no_fact(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    # Whitespace alone was refused; zero-width characters (which show as nothing) were a
    # fact or a memory of nothing, listed as the current preference.
    fact = (await client.post(f"{M}/facts", json={**FACT, "content": "Tea"})).json()["fact"]
    for path, body in (
        ("/remember", {"content": "\u200b"}),
        ("/facts", {**FACT, "content": "\u200b\u200d \ufeff"}),
        (f"/facts/{fact['id']}/supersede", {"content": "\u2060"}),
    ):
        message = _named(await client.post(M + path, json=body), "content")
        assert "visible" in message, message
    assert await _count(db_session, Event) == 0
    current = (await client.get(f"{M}/facts")).json()
    assert [(f["id"], f["content"]) for f in current] == [(fact["id"], "Tea")]
    # Text with a zero-width character inside is text.
    assert await remember(client, "Tea\u200bhouse on Friday")
