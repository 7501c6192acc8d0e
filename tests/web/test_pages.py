"""Every page loads without console errors or failed requests; health shows a dependency down."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Server, shot

PAGES = ["today", "week", "plans", "memory", "reflections", "prompts", "settings"]


def test_root_redirects_to_dashboard(server: Server) -> None:
    r = httpx.get(server.url + "/", follow_redirects=True, timeout=60)
    assert r.status_code == 200 and str(r.url).endswith("/ui/today")
    assert "<main" in r.text


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly(page: Page, server: Server, name: str) -> None:
    page.goto(server.url + f"/ui/{name}")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator(f'nav a[aria-current="page"][href="/ui/{name}"]')).to_have_count(1)
    expect(page.locator(".loading")).to_have_count(0)  # every loading state resolved
    # Every form control has an accessible name.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
                'input:not([type=hidden]), select, textarea, button')]
            .filter((el) => !el.closest('[hidden]'))
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.textContent || '').trim())
            .map((el) => el.outerHTML.slice(0, 120))"""
    )
    assert unnamed == []
    shot(page, f"page-{name}")


def test_dependency_down_shows_on_health_page(page: Page, server: Server) -> None:
    page.goto(server.url + "/ui/settings")
    cache = page.locator('#health tr[data-dep="cache"]')
    expect(cache).to_contain_text("ok")
    page.wait_for_load_state("networkidle")  # reloading earlier would abort its requests
    server.valkey.stop()
    try:
        page.reload()
        expect(cache).not_to_contain_text("ok", timeout=20_000)
        expect(page.locator("#overall")).to_have_text("degraded")
        assert server.api("GET", "/health").json()["dependencies"]["cache"]["status"] != "ok"
        # The page still works: memory is still recalled while the cache is down.
        recall = server.api("GET", "/api/v1/memory/recall", params={"query": "anything"})
        assert recall.status_code == 200
        shot(page, "settings-cache-down")
    finally:
        server.valkey.start()


def test_health_after_the_session_ended_shows_the_status_not_a_failure(
    page: Page, server: Server
) -> None:
    """Once the session ended, /health answers its public form (the overall status only)
    and the page said "Almanac did not answer /health: Cannot read properties of undefined"."""
    page.route("**/health", lambda route: route.fulfill(json={"status": "ok"}, status=200))
    page.goto(server.url + "/ui/settings")
    health = page.locator("#health")
    expect(page.locator("#overall")).to_have_text("ok")
    expect(health).to_contain_text("sign in again")
    expect(health).not_to_contain_text("did not answer")
