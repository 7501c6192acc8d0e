"""Dashboard sessions: cookie sign-in, CSRF on state changes, sign-out, revocation."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.state import AppState
from tests.auth.conftest import KEYS, KeyMaker
from tests.conftest import TEST_ADMIN_KEY, http_client

SESSION = "/api/v1/auth/session"


async def sign_in(anon: httpx.AsyncClient, key: str) -> str:
    r = await anon.post(SESSION, json={"key": key})
    assert r.status_code == 200, r.text
    csrf: str = r.json()["csrf_token"]
    return csrf


async def test_sign_in_sets_a_strict_http_only_cookie(
    anon: httpx.AsyncClient, make_key: KeyMaker, db_session: AsyncSession, state: AppState
) -> None:
    key = await make_key("dash", "write")
    r = await anon.post(SESSION, json={"key": key})
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "write" and body["name"] == "dash" and len(body["csrf_token"]) > 30
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("almanac_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    token = cookie.split(";")[0].split("=", 1)[1]
    # Stored server-side, hashed: neither the cookie nor the CSRF token is in the table.
    rows = (await db_session.execute(text("SELECT * FROM auth_sessions"))).all()
    assert len(rows) == 1
    assert token not in str(rows) and body["csrf_token"] not in str(rows)
    me = await anon.get("/api/v1/auth/me")
    zone = state.settings.timezone
    assert me.json() == {"name": "dash", "scope": "write", "via": "session", "timezone": zone}


async def test_me_names_the_users_time_zone(anon: httpx.AsyncClient, state: AppState) -> None:
    """MCP and Open WebUI read the zone here to show times as the dashboard does: the
    dashboard alone knew it (rendered into the page), so they showed UTC."""
    state.settings.timezone = "America/New_York"
    me = await anon.get("/api/v1/auth/me", headers={"X-API-Key": TEST_ADMIN_KEY})
    assert me.json()["timezone"] == "America/New_York"


async def test_https_requests_get_a_secure_cookie(anon: httpx.AsyncClient) -> None:
    r = await anon.post("https://almanac.test" + SESSION, json={"key": TEST_ADMIN_KEY})
    assert "Secure" in r.headers["set-cookie"]


async def test_wrong_key_opens_nothing(anon: httpx.AsyncClient) -> None:
    r = await anon.post(SESSION, json={"key": "alm_" + "n" * 43})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    assert (await anon.post(SESSION, json={})).status_code == 422


async def test_cookie_writes_need_the_csrf_token(
    anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    csrf = await sign_in(anon, await make_key("dash", "write"))
    remember = "/api/v1/memory/remember"
    r = await anon.post(remember, json={"content": "no token"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = await anon.post(remember, json={"content": "bad"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = await anon.post(remember, json={"content": "ok"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    # Reads need no token.
    assert (await anon.get("/api/v1/memory/recall", params={"query": "ok"})).status_code == 200
    # The session has the key's scope, no more.
    r = await anon.delete("/api/v1/memory/subjects/client/1", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403


async def test_sign_out_ends_the_session(anon: httpx.AsyncClient) -> None:
    csrf = await sign_in(anon, TEST_ADMIN_KEY)
    assert (await anon.delete(SESSION)).status_code == 403  # sign-out needs the token too
    r = await anon.delete(SESSION, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert 'almanac_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    assert (await anon.get("/api/v1/auth/me")).status_code == 401


async def test_a_stolen_cookie_dies_with_the_session(
    anon: httpx.AsyncClient, admin: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    await sign_in(anon, await make_key("dash", "read"))
    assert (await anon.get("/api/v1/auth/me")).status_code == 200
    assert (await admin.delete(f"{KEYS}/dash")).status_code == 200
    assert (await anon.get("/api/v1/auth/me")).status_code == 401
    # A stale cookie does not block signing in again, nor /health.
    assert (await anon.get("/health")).status_code == 200
    assert (await anon.post(SESSION, json={"key": TEST_ADMIN_KEY})).status_code == 200


async def test_expired_sessions_are_refused(
    auth_app: FastAPI, db_session: AsyncSession, state: AppState
) -> None:
    # Off: verified sessions are otherwise trusted for key_cache_seconds per process.
    state.settings.security.key_cache_seconds = 0
    async with http_client(auth_app, key=None) as anon:
        await sign_in(anon, TEST_ADMIN_KEY)
        assert (await anon.get("/api/v1/auth/me")).status_code == 200
        await db_session.execute(
            text("UPDATE auth_sessions SET expires_at = now() - interval '1s'")
        )
        assert (await anon.get("/api/v1/auth/me")).status_code == 401


@pytest.mark.parametrize(
    "key", ["alm_" + "\x00" * 8 + "x" * 40, "alm_" + "é" * 8 + "x" * 40, "alm_abc/defg" + "x" * 40]
)
async def test_a_key_not_shaped_like_ours_is_refused_before_the_database(
    anon: httpx.AsyncClient, key: str
) -> None:
    # The public sign-in sent the NUL prefix to Postgres: a 500 for anyone.
    r = await anon.post(SESSION, json={"key": key})
    assert r.status_code == 401, r.text
    r = await anon.get("/api/v1/auth/me", headers={"X-API-Key": "alm_\u00e9".encode() + b"x" * 40})
    assert r.status_code == 401
