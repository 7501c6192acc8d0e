"""The one problem renderer: bodies FastAPI cannot parse are named and explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


async def test_every_404_names_the_path_parameter_that_named_nothing(client: httpx.AsyncClient):
    """Plans', tasks' and jobs' 404s had no `errors`, where the graph's name `node_id`: a
    client could not tell which part of the request named nothing."""
    missing = {
        ("GET", "/api/v1/planner/plans/987654321"): "plan_id",
        ("GET", "/api/v1/planner/plans/987654321/versions"): "plan_id",
        ("GET", "/api/v1/planner/tasks/987654321"): "task_id",
        ("PATCH", "/api/v1/planner/tasks/0987654321"): "task_id",  # a leading zero too
        ("GET", "/api/v1/jobs/987654321"): "job_id",
        ("GET", "/api/v1/scheduler/sprints/987654321"): "sprint_id",
        ("GET", "/api/v1/planner/prompts/no_such_prompt"): "name",
        # Both are quoted ("prompt template 'x' has no version 'v9'"): the deeper one is named.
        ("GET", "/api/v1/planner/prompts/sop_generator/versions/v987"): "version",
        ("PUT", "/api/v1/scheduler/calendar/not-a-block"): "event_id",
    }
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    move = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    bodies = {"PATCH": {"title": "x"}, "PUT": move}
    for (method, url), field in missing.items():
        r = await client.request(method, url, json=bodies.get(method))
        assert r.status_code == 404, (url, r.text)
        problem = r.json()
        assert problem["errors"] == [{"field": field, "message": problem["detail"]}], url


def test_a_404_about_another_id_does_not_name_the_path_parameter() -> None:
    """`/templates/5` whose body names a missing workflow 5: the 404 is not the path's."""
    from starlette.requests import Request

    from almanac.problems import _named_path_parameter

    request = Request({"type": "http", "path_params": {"template_id": "5"}})
    assert _named_path_parameter(request, "workflow 5 not found") is None
    assert _named_path_parameter(request, "process template 5 not found") == "template_id"
    assert _named_path_parameter(request, "process template 15 not found") is None


async def test_what_a_caller_sent_is_quoted_back_bounded(client: httpx.AsyncClient) -> None:
    """An unknown field named by 500,000 characters came back in a 1 MB problem (its name
    twice), as did an .ics line the parser quoted: every interface showed it whole."""
    huge = "k" * 500_000
    r = await client.post(URL, content=f'{{"content": "x", "{huge}": 1}}', headers=JSON)
    assert r.status_code == 422 and len(r.content) < 10_000, len(r.content)
    (error,) = r.json()["errors"]
    assert (
        error["field"] == "k" * 199 + "…" and error["message"] == "Extra inputs are not permitted"
    )
    line = '{"a": "' + "x" * 500_000 + '"}'
    r = await client.post(
        "/api/v1/calendar/import", content=line, headers={"content-type": "text/calendar"}
    )
    assert r.status_code == 422 and len(r.content) < 10_000, len(r.content)
    problem = r.json()
    assert problem["detail"].startswith("not a valid iCalendar file: ")
    assert problem["detail"].endswith("…") and len(problem["detail"]) <= 4000
    assert problem["errors"][0]["field"] == "body" and len(problem["errors"][0]["message"]) == 1000


async def test_the_errors_listed_are_bounded(client: httpx.AsyncClient) -> None:
    """60,000 unknown keys in a 0.8 MB body came back as 60,000 errors: a 3.7 MB answer."""
    keys = ", ".join(f'"k{i}": 1' for i in range(60_000))
    r = await client.post(URL, content=f'{{"content": "x", {keys}}}', headers=JSON)
    assert r.status_code == 422 and len(r.content) < 40_000, len(r.content)
    errors = r.json()["errors"]
    assert len(errors) == 101 and errors[0]["field"] == "k0"
    assert errors[-1] == {"field": "body", "message": "and 59900 more errors"}


async def test_a_405_allows_every_method_the_path_has(client: httpx.AsyncClient) -> None:
    """Each method of a path is its own route, and Starlette's 405 names only the first
    one's: `DELETE /planner/tasks/1` said `Allow: GET`, hiding PATCH."""
    cases = {
        ("DELETE", "/api/v1/planner/tasks/1"): {"GET", "PATCH"},
        ("PUT", "/api/v1/memory/documents"): {"GET", "POST"},
        ("GET", "/api/v1/memory/remember"): {"POST"},
    }
    for (method, url), methods in cases.items():
        r = await client.request(method, url)
        assert r.status_code == 405, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert allowed == methods, (url, allowed)


async def test_a_multipart_body_without_a_boundary_is_a_problem_naming_the_body(
    client: httpx.AsyncClient,
) -> None:
    """`Content-Type: multipart/form-data` with no boundary was a plain-text 400 from the
    multipart parser ("Missing boundary in multipart."), not a problem body."""
    r = await client.post(
        "/api/v1/memory/documents",
        content=b"--x\r\n\r\nhello\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert "boundary" in problem["detail"]
    assert problem["errors"][0]["field"] == "body"
