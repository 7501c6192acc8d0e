"""A refusal reads the same in the CLI, the MCP tools and the Open WebUI tool: each field
and its reason, once, without the API's "body" location."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from almanac.calendars.schemas import EventIn, OptionalWindow
from almanac.cli.connect import problem_text
from almanac.cli.validation import error_lines
from almanac.http_problems import Problem, decode_problem
from almanac.mcp.api import problem_from
from almanac.memory.schemas import RememberIn
from almanac.problems import install
from tests.integrations.test_openwebui import load_tools

CASES: list[tuple[dict[str, Any], str]] = [
    # ValidationFailed(message, field=...): the detail is the field's reason.
    (
        {
            "detail": "content must contain non-whitespace text",
            "errors": [{"field": "content", "message": "content must contain non-whitespace text"}],
        },
        "content must contain non-whitespace text",
    ),
    (
        {
            "detail": "must be positive",
            "errors": [{"field": "hours", "message": "must be positive"}],
        },
        "hours: must be positive",
    ),
    # A model-level check: the API names the whole request "body".
    (
        {
            "detail": "body: since must not be after until",
            "errors": [{"field": "body", "message": "since must not be after until"}],
        },
        "since must not be after until",
    ),
    # Several fields: each once, in order.
    (
        {
            "detail": "k: Input should be less than or equal to 100; end: end must be after start",
            "errors": [
                {"field": "k", "message": "Input should be less than or equal to 100"},
                {"field": "end", "message": "end must be after start"},
            ],
        },
        "k: Input should be less than or equal to 100; end must be after start",
    ),
    # A detail of its own, then the reasons it does not say, one field named once.
    (
        {
            "detail": "The calendar changed since the preview",
            "errors": [
                {"field": "run_id", "message": "meeting A moved"},
                {"field": "run_id", "message": "meeting B added"},
            ],
        },
        "The calendar changed since the preview (run_id: meeting A moved; meeting B added)",
    ),
    # A detail giving a field's reason in full without naming the field: named first.
    (
        {
            "detail": "10:00 to 11:00 overlaps execution run 1 (09:30 to 10:30) on the same task",
            "errors": [{"field": "ended_at", "message": "overlaps execution run 1"}],
        },
        "ended_at: 10:00 to 11:00 overlaps execution run 1 (09:30 to 10:30) on the same task",
    ),
    ({"detail": "Plan 5 not found", "errors": []}, "Plan 5 not found"),
]


@pytest.fixture(scope="module")
def owui() -> Any:
    load_tools()
    return sys.modules["tool_almanac_test"]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_cli_mcp_and_open_webui_word_a_problem_alike(
    body: dict[str, Any], expected: str, owui: Any
) -> None:
    answer = {"type": "about:blank", "title": "Validation failed", "status": 422, **body}
    assert problem_text(answer, 422) == expected
    assert (
        str(problem_from(httpx.Response(422, json=answer)))
        == f"Validation failed (422): {expected}"
    )
    assert owui._problem(httpx.Response(422, json=answer)) == (
        f"Almanac could not do that (422): {expected}"
    )


def test_a_cli_option_name_replaces_the_field_once() -> None:
    body = {
        "title": "Validation failed",
        "detail": "salience_score: must be at most 1",
        "errors": [{"field": "salience_score", "message": "must be at most 1"}],
    }
    text = decode_problem(422, body).named({"salience_score": "--salience"}).message()
    assert text == "--salience: must be at most 1"


def test_a_title_is_not_repeated_as_the_message() -> None:
    assert Problem(404, "Not Found", "Not Found").headline() == "Not Found (404)"


LOCAL_CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    # A reason that begins with its field: "end: end must be after start" locally.
    (EventIn, {"title": "X", "start": "2026-03-03T09:00Z", "end": "2026-03-03T08:00Z"}),
    (OptionalWindow, {"start": "2026-03-03T09:00Z", "end": "2026-03-03T09:00Z"}),
    # Reasons that do not: the field named once.
    (EventIn, {"title": "x" * 600, "start": "2026-03-03T09:00Z", "end": "2026-03-03T10:00Z"}),
    (RememberIn, {"content": "  ", "salience_score": 2}),
]


@pytest.mark.parametrize(("model", "data"), LOCAL_CASES)
def test_a_cli_check_words_a_refusal_as_the_servers_answer_does(
    model: type[BaseModel], data: dict[str, Any]
) -> None:
    """The CLI checks some input with the API's own schemas before sending it; its lines
    read as the server's refusal of the same body does in every client."""
    app = FastAPI()
    install(app)

    async def check(body: Any) -> None:
        """Never reached: the body is refused as a route's body is."""

    check.__annotations__ = {"body": model, "return": None}  # the model as the route's body
    app.add_api_route("/check", check, methods=["POST"])

    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    local = "; ".join(error_lines(caught.value))
    transport = httpx.ASGITransport(app=app)

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/check", json=data)

    answer = asyncio.run(ask())
    assert answer.status_code == 422, answer.text
    assert local == problem_text(answer.json(), 422)
