"""Security headers on every kind of response, not only on the dashboard's pages."""

from __future__ import annotations

import httpx
import pytest

from almanac.web.routes import PAGE_CSP


def _hardened(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/auth/me", 200),
        ("/api/v1/planner/plans/999999999", 404),
        ("/api/v1/memory/recall", 422),
        ("/static/app.js", 200),
        ("/static/nope.js", 404),
        ("/", 307),
        ("/health", 200),
    ],
)
async def test_non_page_responses_are_inert(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    r = await client.get(path)
    assert r.status_code == status
    _hardened(r)
    # Not HTML: nothing in it may run or load if it is opened as a document.
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp


async def test_pages_keep_their_own_policy(client: httpx.AsyncClient) -> None:
    for path in ("/ui/today", "/ui/signin"):
        r = await client.get(path)
        _hardened(r)
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert "unsafe-inline" not in PAGE_CSP and "unsafe-eval" not in PAGE_CSP
        assert "object-src 'none'" in PAGE_CSP


async def test_browser_refusals_carry_the_headers(client: httpx.AsyncClient) -> None:
    # Refused by the Host check, before any route runs.
    r = await client.get("/api/v1/auth/me", headers={"Host": "attacker.example"})
    assert r.status_code == 400
    _hardened(r)


async def test_docs_are_kept_out_of_frames_only(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    _hardened(r)
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
