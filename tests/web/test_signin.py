"""Sign-in: a wrong key, the admin key, and a read-only key that cannot approve."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import Server, Watch, sign_in


def _fresh(browser: Any, watch: Watch) -> Page:
    page: Page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watch.attach(page)
    return page


def test_sign_in_wrong_key_then_right_key(browser: Any, server: Server, watch: Watch) -> None:
    watch.expected.add(401)
    page = _fresh(browser, watch)
    page.goto(server.url + "/ui/plans")
    expect(page).to_have_url(f"{server.url}/ui/signin?next=%2Fui%2Fplans")
    page.get_by_role("textbox", name="API key").fill("almanac_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-err")).to_contain_text("not accepted")
    expect(page.get_by_role("textbox", name="API key")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("textbox", name="API key").fill(server.admin_key or "")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/ui/plans")
    expect(page.locator("#who")).to_contain_text("admin")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert (
        cookies["almanac_session"]["httpOnly"]
        and cookies["almanac_session"]["sameSite"] == "Strict"
    )
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.url}/ui/signin")
    assert page.request.get(server.url + "/api/v1/auth/me").status == 401
    assert watch.problems == []


def test_without_scripts_the_form_sends_nothing_and_says_why(
    browser: Any, server: Server, watch: Watch
) -> None:
    """With scripts off the form POSTed the key to /ui/signin, which has no handler (a 415,
    the key in the body): now its fields stay disabled, so nothing is sent (this replaces
    the check that such a POST kept the key out of the URL: no key can be typed at all)."""
    context = browser.new_context(java_script_enabled=False)
    page: Page = context.new_page()
    watch.attach(page)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}"))
    page.goto(server.url + "/ui/signin")
    # Chromium's emulated scripts-off still parses <noscript> as with scripts on (so it
    # is not rendered here); a browser with scripts off in its settings shows it.
    assert "The dashboard needs JavaScript" in (page.locator("noscript").text_content() or "")
    expect(page.get_by_role("textbox", name="API key")).to_be_disabled()
    button = page.get_by_role("button", name="Sign in")
    expect(button).to_be_disabled()
    button.click(force=True)  # a click on it anyway submits nothing
    page.wait_for_timeout(300)
    assert [r for r in sent if not r.startswith("GET ")] == [], sent
    expect(page).to_have_url(server.url + "/ui/signin")
    assert watch.problems == []
    context.close()


def test_read_only_key_cannot_approve(browser: Any, server: Server, watch: Watch) -> None:
    created = server.api("POST", "/api/v1/auth/keys", json={"name": "viewer", "scope": "read"})
    assert created.status_code == 201
    plan = server.api("POST", "/api/v1/planner/plan", json={"intent": "Monthly client report"})
    plan_id = plan.json()["id"]
    page = _fresh(browser, watch)
    sign_in(page, server, created.json()["key"])
    expect(page.locator("#who")).to_contain_text("read")
    page.goto(server.url + f"/ui/plans?plan={plan_id}")
    expect(page.locator("#plan")).to_contain_text("read-only key")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Make a draft")).to_be_hidden()
    # The API refuses anyway, even with the session's CSRF token.
    watch.expected.add(403)
    status = page.evaluate(
        """async (id) => (await fetch(`/api/v1/planner/plans/${id}/approve`, {method: 'POST',
            headers: {'X-CSRF-Token': localStorage.getItem('almanac.csrf')}})).status""",
        plan_id,
    )
    assert status == 403
    assert server.api("GET", f"/api/v1/planner/plans/{plan_id}").json()["status"] == "draft"
    assert watch.problems == []


def test_admin_creates_and_revokes_a_key(page: Page, server: Server) -> None:
    page.goto(server.url + "/ui/settings")
    keys = page.locator("#keys")
    keys.get_by_label("Name").fill("laptop")
    keys.get_by_label("Scope").select_option("write")
    keys.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key").inner_text().strip()
    listed = {k["name"]: k for k in server.api("GET", "/api/v1/auth/keys").json()}
    assert listed["laptop"]["scope"] == "write" and secret.startswith(listed["laptop"]["prefix"])
    row = keys.locator('tr[data-key="laptop"]')
    expect(row).not_to_contain_text(secret)  # the list never shows the key itself
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Revoke key laptop").click()
    expect(page.locator("#flash")).to_contain_text("revoked")
    gone = httpx.get(
        server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=60
    )
    assert gone.status_code == 401


def test_settings_shows_the_feed_address_to_an_admin_only(
    page: Page, server: Server, browser: Any, watch: Watch
) -> None:
    page.goto(server.url + "/ui/settings")
    token = (server.data_dir / "ics-feed-token").read_text().strip()
    address = f"{server.url}/api/v1/calendar/feed.ics?token={token}"
    expect(page.locator("#feed-url")).to_have_text(address)
    assert httpx.get(address, timeout=60).status_code == 200  # what a calendar app does: no key
    assert httpx.get(server.url + "/api/v1/calendar/feed.ics", timeout=60).status_code == 401
    viewer = server.api("POST", "/api/v1/auth/keys", json={"name": "feed-viewer", "scope": "read"})
    reader = _fresh(browser, watch)
    sign_in(reader, server, viewer.json()["key"])
    reader.goto(server.url + "/ui/settings")
    expect(reader.locator("#feed")).to_contain_text("admin keys only")
    expect(reader.locator("#feed-url")).to_have_count(0)
    assert token not in reader.content()
