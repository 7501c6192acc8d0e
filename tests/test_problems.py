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


def test_an_html_page_is_summarised_not_pasted() -> None:
    """A proxy's or another server's error page: the CLI printed its markup as the error."""
    from almanac.http_problems import decode_problem

    page = (
        "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
        "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>"
        "</html>\n"
    )
    message = decode_problem(502, page.encode(), "Bad Gateway").message()
    assert "<" not in message and "\n" not in message
    assert message.startswith("HTTP 502 Bad Gateway with an HTML page titled '502 Bad Gateway'")
    assert "another server or a proxy" in message
    # Text that is no page is kept as it came.
    assert decode_problem(502, b"bad gateway", "Bad Gateway").message() == "bad gateway"


def test_the_cli_says_which_answer_an_html_page_was(monkeypatch) -> None:
    from almanac.cli import connect

    page = "<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>"
    text = connect.problem_text(page, 404)
    assert text.startswith("HTTP 404 with an HTML page titled 'Welcome to nginx!'"), text
