"""The one problem renderer: bodies FastAPI cannot parse are named and explained."""

from __future__ import annotations

import httpx

from almanac.models import Event
from tests.conftest import ok

JSON = {"content-type": "application/json"}
URL = "/api/v1/memory/remember"


async def test_a_json_body_that_cannot_be_parsed_says_why(client: httpx.AsyncClient, db_session):
    """Deep nesting, a 5,000-digit number or bytes that are not UTF-8 were a 400 titled
    "There was an error parsing the body", naming neither the body nor the reason."""
    cases = {
        "nested too deeply": "[" * 100_000 + "]" * 100_000,
        "more than 4300 digits": '{"content": "a", "salience_score": ' + "9" * 5000 + "}",
        "not UTF-8": b'{"content": "\xff\xfe\xfa caf\xe9"}',
    }
    for reason, body in cases.items():
        r = await client.post(URL, content=body, headers=JSON)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["title"] == "Malformed JSON"
        assert reason in problem["detail"], problem
        assert problem["errors"] == [{"field": "body", "message": problem["errors"][0]["message"]}]
    assert await db_session.scalar(Event.__table__.select().with_only_columns(Event.id)) is None
    # A readable body still works.
    await ok(await client.post(URL, json={"content": "fine"}), 201)
