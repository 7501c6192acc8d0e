"""Hostile text stored through the API is shown as text on every page: nothing runs, and
nothing (a long unbroken word, bidi and zero-width characters) breaks the layout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import TIMEZONE, Server, Watch, shot

MARK = "Qx7hostile"
# Each part would run script if it reached the DOM as HTML, or as a link/attribute.
XSS = (
    f'{MARK} <img src=x onerror="window.__pwned=1;alert(1)">'
    "</script><script>window.__pwned=2</script>"
    ' "><svg onload="window.__pwned=3"> javascript:window.__pwned=4//'
    " {{7*7}} ${7*7}"
)
# An unterminated right-to-left override (it would reverse every letter after it in the
# line: "evil" shown as "live"), zero-width characters, an unclosed isolate.
BIDI = "\u202eevil\u200b\u200f\u2067"
LONG = "W" * 180  # one unbroken word, far wider than any column


@pytest.fixture
def hostile(server: Server) -> Iterator[dict[str, Any]]:
    """A plan, its tasks, a meeting today and a memory and fact, all titled with hostile text."""
    made: dict[str, Any] = {}
    plan = server.api(
        "POST", "/api/v1/planner/plan", json={"intent": f"Monthly client reporting {XSS} {BIDI}"}
    )
    assert plan.status_code in (200, 201), plan.text
    body = plan.json()
    sop = body["sop"]
    sop["steps"][0]["title"] = f"Step {XSS}"
    sop["steps"][0]["tasks"][0]["title"] = f"Task {LONG} {BIDI}"
    edited = server.api(
        "PUT",
        f"/api/v1/planner/plans/{body['id']}",
        json={"plan_title": f"Plan {XSS} {LONG}", "sop": sop, "version": body["version"]},
    )
    assert edited.status_code == 200, edited.text
    made["plan"] = edited.json()
    approved = server.api("POST", f"/api/v1/planner/plans/{body['id']}/approve")
    assert approved.status_code == 200, approved.text
    now = datetime.now(ZoneInfo(TIMEZONE))
    start = now.replace(hour=12, minute=0, second=0, microsecond=0)
    meeting = server.api(
        "POST",
        "/api/v1/calendar/events",
        json={
            "title": f"Meet {XSS} {LONG} {BIDI}",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert meeting.status_code == 201, meeting.text
    made["meeting"] = meeting.json()
    memory = server.api(
        "POST", "/api/v1/memory/remember", json={"content": f"Memo {XSS} {LONG} {BIDI}"}
    )
    assert memory.status_code in (200, 201), memory.text
    fact = server.api(
        "POST",
        "/api/v1/memory/facts",
        json={
            "subject_type": "user",
            "subject_id": "me",
            "fact_type": "preference",
            "content": f"Fact {XSS} {LONG}",
        },
    )
    assert fact.status_code in (200, 201), fact.text
    yield made
    # Leave the shared server as the other modules expect it.
    server.api("DELETE", f"/api/v1/calendar/events/{made['meeting']['id']}")
    server.api("POST", f"/api/v1/planner/plans/{body['id']}/status", json={"status": "cancelled"})


def _assert_safe(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate("() => window.__pwned") is None, "hostile text ran as script"
    assert dialogs == [], dialogs
    assert page.locator("main img, main svg[onload], main script").count() == 0
    # No placeholder leaks out as text ("null" from Element.append(null), "undefined").
    stray = page.evaluate(
        """() => {
            const w = document.createTreeWalker(document.querySelector('main'), 4), out = [];
            while (w.nextNode()) {
              const t = w.currentNode;
              if (/^(null|undefined)$/.test(t.data.trim())) out.push(t.parentElement.tagName);
            }
            return out; }"""
    )
    assert stray == [], stray
    # The page may scroll down, never sideways: a long word wraps inside its column.
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def _reads_left_to_right(page: Page, within: str, word: str) -> bool:
    """Whether `word`'s first letter is drawn left of its last (false if it was reversed)."""
    return bool(
        page.evaluate(
            """([sel, word]) => {
                const w = document.createTreeWalker(document.querySelector(sel), 4);
                while (w.nextNode()) {
                  const t = w.currentNode, i = t.data.indexOf(word);
                  if (i < 0) continue;
                  const at = (k) => { const r = document.createRange();
                    r.setStart(t, k); r.setEnd(t, k + 1); return r.getBoundingClientRect().left; };
                  return at(i) < at(i + word.length - 1);
                }
                throw new Error("not shown: " + word);
            }""",
            [within, word],
        )
    )


def test_hostile_text_is_inert_on_every_page(
    page: Page, server: Server, watch: Watch, hostile: dict[str, Any]
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": 1000, "height": 900})
    plan_id = hostile["plan"]["id"]

    page.goto(server.url + "/ui/today")
    expect(page.locator("#blocks")).to_contain_text(f"Meet {MARK} <img src=x onerror=")
    expect(page.locator("#tasks")).to_contain_text("Task WWWW")
    _assert_safe(page, dialogs)
    # The override is dropped: the stored letters, and the page's own text after them,
    # read in their order.
    assert _reads_left_to_right(page, "#blocks", "evil")
    assert _reads_left_to_right(page, "#tasks", "evil")
    shot(page, "hostile-today")

    page.goto(server.url + f"/ui/plans?plan={plan_id}")
    expect(page.locator("#plan")).to_contain_text(f"{MARK} <img src=x onerror=")
    expect(page.locator("#plan-title")).to_have_value(f"Plan {XSS} {LONG}")
    expect(page.locator("#plan-list")).to_contain_text("</script><script>")
    _assert_safe(page, dialogs)
    shot(page, "hostile-plans")

    page.goto(server.url + f"/ui/week?plan={plan_id}")
    expect(page.locator(".ev.meeting").first).to_be_visible()
    page.locator("#sched-form").get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-out")).to_contain_text("Task WWWW")
    _assert_safe(page, dialogs)
    shot(page, "hostile-week")

    page.goto(server.url + f"/ui/memory?q={MARK}")
    results = page.locator("#results")
    expect(results).to_contain_text(f"Memo {MARK} <img src=x onerror=")
    expect(results).to_contain_text(f"Fact {MARK}")
    results.get_by_role("button", name=f"Memo {MARK}").first.click()
    expect(page.locator("#detail")).to_contain_text("window.__pwned=2</script>")
    _assert_safe(page, dialogs)
    shot(page, "hostile-memory")
