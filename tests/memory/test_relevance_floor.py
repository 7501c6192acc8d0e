"""The relevance floor: recall says when nothing stored is about the query."""

from __future__ import annotations

import httpx
import pytest

from almanac.config import SearchSettings
from almanac.memory.relevance import FLOOR, no_match, relevance
from tests.memory.test_recall import recall, remember

DIARY = [
    "Booked the team offsite at the lake house for the second week of June",
    "Maria from Acme asked for the onboarding checklist before Friday",
    "My dog Biscuit needs a walk every evening",
    "The quarterly report draft is due to the board on the 15th",
    "Switched the gym session to Tuesday mornings",
    "Dinner with my sister on Saturday at the Thai place",
    "The client prefers invoices in euros",
    "Finished reading the book about habits and sleep",
    "Planning to repaint the kitchen cabinets in a pale green",
    "Dentist appointment moved to the 3rd at 10 am",
    "Bought tickets for the jazz concert next month",
    "The roof gutter needs cleaning before winter",
]


@pytest.fixture
async def diary(client: httpx.AsyncClient) -> dict[str, int]:
    return {text: await remember(client, text) for text in DIARY}


async def test_a_question_about_something_never_mentioned_gets_no_match(
    client: httpx.AsyncClient, diary: dict[str, int]
) -> None:
    for query in (
        "Which Kubernetes cluster runs the billing microservice?",
        "What is the routing number of the corporate bank account?",
        "Which firewall port did the sysadmin open for the VPN?",
    ):
        out = await recall(client, query)
        assert out["no_match"] is True, (query, out["results"])
        assert out["results"] == []
    # A caller that wants a listing, not an answer, turns the floor off for one query.
    listing = await recall(client, "Which Kubernetes cluster runs billing?", floor="false", k=3)
    assert listing["no_match"] is False and len(listing["results"]) == 3


async def test_answerable_questions_pass_the_floor_with_comparable_scores(
    client: httpx.AsyncClient, diary: dict[str, int]
) -> None:
    for query, text in (
        ("when is the dentist appointment", "Dentist appointment moved to the 3rd at 10 am"),
        ("what colour for the kitchen cabinets", DIARY[8]),
        ("who wants the onboarding checklist", DIARY[1]),
    ):
        out = await recall(client, query, k=5)
        assert out["no_match"] is False
        assert out["results"][0]["id"] == diary[text]
        rel = [r["relevance"] for r in out["results"]]
        assert all(0 <= r <= 1 for r in rel) and rel[0] >= FLOOR


async def test_the_floor_can_be_turned_off(
    client: httpx.AsyncClient, diary: dict[str, int], state: object
) -> None:
    state.settings.search.relevance_floor = False  # type: ignore[attr-defined]
    out = await recall(client, "Which Kubernetes cluster runs the billing microservice?")
    assert out["no_match"] is False and len(out["results"]) == 10
    assert all(r["relevance"] < FLOOR for r in out["results"])


def test_relevance_is_half_at_each_threshold_and_bounded() -> None:
    s = SearchSettings()
    assert relevance(None, s.floor_coverage, None, s) == 0.5
    assert relevance(s.floor_similarity, 0.0, None, s) == 0.5
    assert relevance(0.5, 0.0, 0.5 - s.floor_margin, s) == 0.5
    assert relevance(1.0, 1.0, None, s) == 1.0
    assert relevance(-1.0, 0.0, 0.9, s) == 0.0
    assert no_match([]) and no_match([0.49]) and not no_match([0.1, 0.5])


async def test_an_empty_window_says_nothing_is_stored_there_not_the_floor(
    client: httpx.AsyncClient, diary: dict[str, int]
) -> None:
    # Everything in the diary was remembered now: a window years back holds nothing.
    out = await recall(
        client, "dentist appointment", since="2001-01-01T00:00:00Z", until="2001-02-01T00:00:00Z"
    )
    assert out["no_match"] is True and out["results"] == []
    assert out["detail"] == "nothing is stored within the filters given (since, until)"
    assert out["degraded"] is False
    # A window that holds memories, none about the query: that is the floor, no detail.
    floored = await recall(
        client, "Which Kubernetes cluster runs billing?", since="2001-01-01T00:00:00Z"
    )
    assert floored["no_match"] is True and floored["detail"] is None
