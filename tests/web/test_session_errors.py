"""What a user sees when the key is wrong for an action, the session ends, or the API fails."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, Route, expect

from tests.web.conftest import WAIT_MS, Server, Watch, sign_in


def _fresh(browser: Any, watch: Watch, **options: Any) -> Page:
    page: Page = browser.new_context(viewport={"width": 1400, "height": 1000}, **options).new_page()
    page.set_default_timeout(WAIT_MS)
    watch.attach(page)
    return page


def _key(server: Server, name: str, scope: str) -> str:
    created = server.api("POST", "/api/v1/auth/keys", json={"name": name, "scope": scope})
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return {"status": status, "content_type": "application/problem+json", "body": json.dumps(body)}


def test_revoked_key_leads_back_to_sign_in_with_a_message(
    browser: Any, server: Server, watch: Watch
) -> None:
    page = _fresh(browser, watch)
    sign_in(page, server, _key(server, "soon-revoked", "write"))
    page.goto(server.url + "/ui/plans")
    expect(page.locator("#who")).to_contain_text("soon-revoked")
    assert server.api("DELETE", "/api/v1/auth/keys/soon-revoked").status_code == 200
    watch.expected.add(401)
    page.reload()
    expect(page).to_have_url(f"{server.url}/ui/signin?ended=1&next=%2Fui%2Fplans")
    expect(page.locator("#flash")).to_contain_text("Your session has ended")
    expect(page.locator("#flash")).to_contain_text("revoked")
    assert watch.problems == []
    page.context.close()


def test_write_key_is_not_offered_admin_actions(browser: Any, server: Server, watch: Watch) -> None:
    key = _key(server, "writer", "write")
    # These actions are admin-only in the API: a write key is refused.
    refused = httpx.post(
        server.url + "/api/v1/planner/prompts/planning/versions",
        headers={"Authorization": f"Bearer {key}"},
        json={"content": "x"},
        timeout=60,
    )
    assert refused.status_code == 403
    page = _fresh(browser, watch)
    sign_in(page, server, key)
    # The key itself is kept nowhere the page's scripts (or a cookie jar) could leak it.
    stored = page.evaluate("() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }])")
    assert key not in stored and key not in page.url
    assert all(key not in c["value"] for c in page.context.cookies())
    page.goto(server.url + "/ui/prompts")
    expect(page.locator("#prompt-versions table")).to_be_visible()
    expect(page.get_by_role("button", name="Save new version")).to_be_hidden()
    expect(page.get_by_role("button", name="Activate", exact=False)).to_have_count(0)
    expect(page.locator("#rollback")).to_have_count(0)
    page.goto(server.url + "/ui/memory")
    expect(page.get_by_role("button", name="Remember")).to_be_visible()  # write is enough
    expect(page.get_by_role("button", name="Show what will be removed")).to_be_hidden()
    expect(page.get_by_role("button", name="Show what would be archived")).to_be_hidden()
    page.goto(server.url + "/ui/settings")
    expect(page.locator("#google")).to_contain_text("needs an admin key")
    assert watch.problems == []
    page.context.close()


def test_failed_answers_show_their_problem(page: Page, server: Server, watch: Watch) -> None:
    watch.expected.update({502, 503})

    # A dependency down: the panel shows the problem's title and detail.
    def down(route: Route) -> None:
        route.fulfill(**_problem(503, "Database unavailable", "Postgres did not answer in 5 s"))

    page.route("**/api/v1/planner/plans?*", down)
    page.goto(server.url + "/ui/plans")
    listed = page.locator("#plan-list")
    expect(listed.get_by_role("alert")).to_contain_text("Database unavailable (503)")
    expect(listed).to_contain_text("Postgres did not answer in 5 s")
    page.unroute("**/api/v1/planner/plans?*")

    # A proxy's HTML error page is summarised, never pasted in raw.
    page.route(
        "**/api/v1/planner/plans?*",
        lambda r: r.fulfill(status=502, content_type="text/html", body="<html><h1>Bad</h1>"),
    )
    page.reload()
    expect(listed).to_contain_text("HTTP 502")
    expect(listed).not_to_contain_text("<h1>")
    page.unroute("**/api/v1/planner/plans?*")

    # An action or a form answered with a problem: its title and detail, not only a status.
    page.route("**/api/v1/memory/facts?*", down)
    page.route("**/api/v1/memory/remember", down)
    page.goto(server.url + "/ui/memory")
    page.get_by_role("button", name="Export facts").click()
    expect(page.locator("#flash")).to_contain_text(
        "Database unavailable: Postgres did not answer in 5 s"
    )
    form = page.locator("#remember-form")
    form.get_by_label("Memory").fill("kept only if the database answers")
    form.get_by_role("button", name="Remember").click()
    expect(form.locator(".err.general")).to_have_text(
        "Database unavailable: Postgres did not answer in 5 s"
    )
    page.unroute("**/api/v1/memory/facts?*")
    page.unroute("**/api/v1/memory/remember")

    # Who am I fails: the page says why instead of staying blank, and offers a retry.
    def me_down(route: Route) -> None:
        route.fulfill(**_problem(503, "Database unavailable", "cannot check the key now"))

    page.route("**/api/v1/auth/me", me_down)
    page.goto(server.url + "/ui/today")
    flash = page.locator("#flash")
    expect(flash).to_contain_text("Database unavailable (503)")
    expect(flash).to_contain_text("cannot check the key now")
    page.unroute("**/api/v1/auth/me")
    flash.get_by_role("button", name="Try again").click()
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.get_by_role("alert").filter(has_text="Database unavailable")).to_have_count(0)


def test_bad_input_names_the_field(page: Page, server: Server, watch: Watch) -> None:
    watch.expected.add(422)
    page.goto(server.url + "/ui/week?week=2031-01-06")
    form = page.locator("#sprint form")
    form.get_by_label("Capacity (h)").fill("-5")
    form.get_by_role("button", name="Create the sprint").click()
    expect(form.locator('.err[data-for="capacity_hrs"]')).not_to_be_empty()
    expect(form.get_by_label("Capacity (h)")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Capacity (h)")).to_be_focused()


def test_sign_in_goes_on_to_dashboard_pages_only(
    browser: Any, server: Server, watch: Watch
) -> None:
    page = _fresh(browser, watch)
    for bad in ("/ui/../api/v1/auth/me", "/ui/%2e%2e/api/v1/export", "//evil.example/ui/x"):
        page.goto(server.url + "/ui/signin?next=" + quote(bad, safe=""))
        page.get_by_role("textbox", name="API key").fill(server.admin_key or "")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(server.url + "/ui/today")
    page.goto(server.url + "/ui/signin?next=" + quote("/ui/week?week=2031-01-06", safe=""))
    page.get_by_role("textbox", name="API key").fill(server.admin_key or "")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/ui/week?week=2031-01-06")
    page.context.close()


def test_read_key_sees_blocks_but_is_offered_no_move(
    browser: Any, server: Server, watch: Watch
) -> None:
    plan = server.api("POST", "/api/v1/planner/plan", json={"intent": "Monthly client reporting"})
    plan_id = plan.json()["id"]
    assert server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").status_code == 200
    # A week far away (a schedule starts at most a year ahead), so the other modules'
    # weeks stay as they expect.
    today = date.today()
    week = (today + timedelta(weeks=50, days=-today.weekday())).isoformat()
    placed = server.api(
        "POST",
        "/api/v1/scheduler/schedule",
        json={"plan_id": plan_id, "start_date": week, "dry_run": False},
    )
    assert placed.status_code == 200 and placed.json()["blocks"], placed.text
    page = _fresh(browser, watch)
    sign_in(page, server, _key(server, "week-viewer", "read"))
    page.goto(server.url + f"/ui/week?week={week}")
    blocks = page.locator(".ev.billable, .ev.internal")
    expect(blocks.first).to_be_visible()
    expect(page.locator("button.ev")).to_have_count(0)  # nothing to press that would fail
    page.context.close()


def test_signing_out_in_another_tab_is_said_in_this_one(
    browser: Any, server: Server, watch: Watch
) -> None:
    """Signed out in one tab, the other went on as if signed in, and its next request led
    to the sign-in page without saying why (the kept token was already gone)."""
    first = _fresh(browser, watch)
    sign_in(first, server, _key(server, "two-tabs", "write"))
    second = first.context.new_page()
    watch.attach(second)
    second.goto(server.url + "/ui/memory")
    expect(second.locator("#who")).to_contain_text("two-tabs")
    first.goto(server.url + "/ui/plans")
    first.locator("#signout").click()
    expect(first).to_have_url(f"{server.url}/ui/signin")
    flash = second.locator("#flash")
    expect(flash).to_contain_text("You signed out in another tab")
    expect(second.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", "/ui/signin?ended=1&next=%2Fui%2Fmemory"
    )
    # What was being typed is still there; sending it leads to sign in, saying why.
    watch.expected.add(401)
    form = second.locator("#remember-form")
    form.get_by_label("Memory").fill("Typed before the other tab signed out")
    form.get_by_role("button", name="Remember").click()
    expect(second).to_have_url(f"{server.url}/ui/signin?ended=1&next=%2Fui%2Fmemory")
    expect(second.locator("#flash")).to_contain_text("Your session has ended")
    assert watch.problems == []
    first.context.close()
