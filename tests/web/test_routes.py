"""The dashboard's own routes (no browser): redirects, page shells, headers, assets."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from almanac.config import OpenAILLMSettings
from almanac.state import AppState
from almanac.web.routes import PAGES

NAMES = [name for name, _ in PAGES]


async def test_root_and_ui_redirect(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    r = await client.get("/ui/")
    assert r.status_code == 307 and r.headers["location"] == "/ui/today"


@pytest.mark.parametrize("name", [*NAMES, "signin"])
async def test_every_page_is_a_shell_with_landmarks(client: httpx.AsyncClient, name: str) -> None:
    r = await client.get(f"/ui/{name}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<main id="main"' in html and '<html lang="en">' in html
    assert f'data-page="{name}"' in html
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "https://" not in html, "nothing may come from a CDN"
    assert r.headers["cache-control"] == "no-store"


async def test_pages_show_the_users_zone_and_no_secrets(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # The pages are public (the API behind them is not): no secret, URL or key tail in them.
    state.settings.llm = OpenAILLMSettings(
        base_url="http://llm.internal:8000/v1",
        model="m",
        api_key=SecretStr("sk-very-secret-9876"),
    )
    state.settings.calendar.ics_feed_token = SecretStr("feed-token-5432")
    for name in ("prompts", "settings"):
        html = (await client.get(f"/ui/{name}")).text
        assert 'data-tz="UTC"' in html and "Times in UTC." in html
        for secret in ("9876", "llm.internal", "5432"):
            assert secret not in html


async def test_assets_are_versioned_and_cached(client: httpx.AsyncClient) -> None:
    html = (await client.get("/ui/week")).text
    assert "/static/week.js?v=" in html and "/static/app.css?v=" in html
    r = await client.get("/static/app.js")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert (await client.get("/static/nope.js")).status_code == 404
    assert (await client.get("/static/../app.py")).status_code == 404


async def test_unknown_page_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ui/nope")).status_code == 404


async def test_the_planner_alone_says_where_memory_lives(state: AppState) -> None:
    """With the Gateway in a process of its own, the Planner's Memory page offered search,
    remember and forget, each a bare 404 from an API this server does not have."""
    from almanac.app import create_app
    from almanac.deps import get_state
    from tests.conftest import http_client

    app = create_app(state=state, services=["planner"])
    app.dependency_overrides[get_state] = lambda: state
    async with http_client(app) as planner:
        assert (
            await planner.get("/api/v1/memory/recall", params={"query": "x"})
        ).status_code == 404
        page = (await planner.get("/ui/memory")).text
        assert 'id="memory-elsewhere"' in page and "almanac recall" in page
        assert 'id="remember-form"' not in page and 'id="forget-form"' not in page
        today = (await planner.get("/ui/today")).text
        assert 'href="/ui/memory"' not in today and 'href="/ui/plans"' in today
    # Both in one process: the page and its link are there.
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    async with http_client(app) as both:
        page = (await both.get("/ui/memory")).text
        assert 'id="remember-form"' in page and 'id="memory-elsewhere"' not in page
        assert 'href="/ui/memory"' in (await both.get("/ui/today")).text
