"""On a phone every page fits the screen's width: it scrolls down, never sideways (a wide
table scrolls inside its own card), and a table's columns stay readable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Server, Watch, shot, signed_in_page

PAGES = ["today", "week", "plans", "memory", "reflections", "prompts", "settings"]


@pytest.fixture
def phone(server: Server, browser: Any, watch: Watch) -> Iterator[Page]:
    """A signed-in page on a 320 px wide screen (the narrowest phones in use)."""
    yield from signed_in_page(
        server,
        browser,
        watch,
        viewport={"width": 320, "height": 700},
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def open_tasks(server: Server) -> Iterator[None]:
    """An approved plan, so Today lists its tasks in a table with forms in its rows."""
    plan = server.api("POST", "/api/v1/planner/plan", json={"intent": "Monthly client reporting"})
    assert plan.status_code in (200, 201), plan.text
    plan_id = plan.json()["id"]
    approved = server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve")
    assert approved.status_code == 200, approved.text
    yield
    server.api("POST", f"/api/v1/planner/plans/{plan_id}/status", json={"status": "cancelled"})


def _sideways(page: Page) -> int:
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_no_page_scrolls_sideways_on_a_phone(phone: Page, server: Server, open_tasks: None) -> None:
    for name in PAGES:
        phone.goto(server.url + "/ui/" + name)
        phone.wait_for_load_state("networkidle")
        expect(phone.locator("main .loading")).to_have_count(0)
        assert _sideways(phone) <= 1, f"/ui/{name} scrolls sideways by {_sideways(phone)}px"
        shot(phone, f"phone-{name}")


def test_a_task_table_on_a_phone_stays_readable(
    phone: Page, server: Server, open_tasks: None
) -> None:
    phone.goto(server.url + "/ui/today")
    first = phone.locator("#tasks tbody tr").first.locator("td").first
    expect(first).to_be_visible()
    # Its name wraps between words, not a letter or two a line: the column is wider
    # than any of its words, and the table scrolls inside its card instead.
    box = first.bounding_box()
    assert box is not None
    assert box["width"] >= 100, f"the task column is {box['width']}px wide"
    # The estimate ("1.5 h") is on one line: its text is no taller than a line and a half.
    heights = (
        phone.locator("#tasks tbody tr")
        .first.locator("td")
        .nth(1)
        .evaluate(
            """td => { const r = document.createRange(); r.selectNodeContents(td);
                   return [r.getBoundingClientRect().height,
                           parseFloat(getComputedStyle(td).lineHeight)
                             || parseFloat(getComputedStyle(td).fontSize) * 1.2]; }"""
        )
    )
    assert heights[0] < 1.5 * heights[1], f"the estimate breaks over lines: {heights}"
    assert _sideways(phone) <= 1
