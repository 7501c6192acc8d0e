"""A refusal reads the same in the CLI, the MCP tools and the Open WebUI tool: each field
and its reason, once, without the API's "body" location."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

from almanac.cli.connect import problem_text
from almanac.http_problems import Problem, decode_problem
from almanac.mcp.api import problem_from
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
