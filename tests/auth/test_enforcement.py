"""Every route needs a key; scopes by method; admin routes; the few public routes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from almanac.app import create_app
from almanac.auth.policy import ANY_SCOPE_ROUTES, is_public, unguarded_mounts
from almanac.config import Settings
from tests.auth.conftest import KEYS, KeyMaker, bearer
from tests.conftest import TEST_ADMIN_KEY, http_client

PROBLEM = "application/problem+json"


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation the app documents, path parameters filled with 1."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        out.extend((method.upper(), concrete) for method in ops)
    return out


async def test_every_route_without_a_key_is_401_unless_listed_public(
    auth_app: FastAPI, anon: httpx.AsyncClient
) -> None:
    routes = _routes(auth_app)
    assert len(routes) > 50
    checked = 0
    for method, path in routes:
        if is_public(method, path):
            continue
        r = await anon.request(method, path)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"].startswith("Bearer")
        checked += 1
    assert checked > 50


async def test_a_router_added_later_is_protected_too(
    auth_app: FastAPI, anon: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    extra = APIRouter()

    @extra.get("/api/v1/new-thing")
    async def new_thing() -> dict[str, str]:
        return {"secret": "yes"}

    auth_app.include_router(extra)
    assert (await anon.get("/api/v1/new-thing")).status_code == 401
    assert (await admin.get("/api/v1/new-thing")).json() == {"secret": "yes"}


async def test_wrong_key_and_other_schemes_are_401(anon: httpx.AsyncClient) -> None:
    for headers in (
        bearer("alm_" + "q" * 43),
        {"X-API-Key": "nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ):
        r = await anon.get("/api/v1/memory/facts", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["status"] == 401


async def test_bearer_and_x_api_key_both_work(anon: httpx.AsyncClient) -> None:
    assert (
        await anon.get("/api/v1/memory/facts", headers=bearer(TEST_ADMIN_KEY))
    ).status_code == 200
    r = await anon.get("/api/v1/memory/facts", headers={"X-API-Key": TEST_ADMIN_KEY})
    assert r.status_code == 200


async def test_two_different_keys_are_refused_whichever_is_valid(
    anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    """A valid admin Bearer key and another key in X-API-Key (or the reverse) answered as
    the Bearer key alone: a proxy checking X-API-Key would have seen another caller."""
    reader = await make_key("two-keys-reader", "read")
    for bearer_key, header_key in (
        (TEST_ADMIN_KEY, reader),
        (reader, TEST_ADMIN_KEY),
        (TEST_ADMIN_KEY, "nonsense"),
    ):
        headers = {**bearer(bearer_key), "X-API-Key": header_key}
        r = await anon.post("/api/v1/memory/remember", json={"content": "x"}, headers=headers)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == PROBLEM
        assert {e["field"] for e in r.json()["errors"]} == {"Authorization", "X-API-Key"}
    same = {**bearer(TEST_ADMIN_KEY), "X-API-Key": TEST_ADMIN_KEY}
    assert (await anon.get("/api/v1/memory/facts", headers=same)).is_success


async def test_a_proxy_basic_login_is_no_key(anon: httpx.AsyncClient, make_key: KeyMaker) -> None:
    """A proxy passing its own `Authorization: Basic` made a valid X-API-Key (or the
    dashboard's cookie) a 401: another scheme is not a key, so the others are read."""
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    reader = await make_key("behind-proxy", "read")
    r = await anon.get("/api/v1/auth/me", headers={**basic, "X-API-Key": reader})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "behind-proxy"
    r = await anon.post(
        "/api/v1/memory/remember", json={"content": "x"}, headers={**basic, "X-API-Key": reader}
    )
    assert r.status_code == 403, r.text  # the key's own scope still holds
    # Basic alone is a 401 saying why, not "the API key is not valid".
    r = await anon.get("/api/v1/memory/facts", headers=basic)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert "'Basic' scheme" in r.json()["detail"] and "Bearer" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "Authorization"
    # A wrong X-API-Key behind the proxy is still a wrong key.
    r = await anon.get("/api/v1/memory/facts", headers={**basic, "X-API-Key": "nonsense"})
    assert r.status_code == 401 and "not valid" in r.json()["detail"]
    # The dashboard's cookie behind the same proxy signs in.
    signed = await anon.post("/api/v1/auth/session", json={"key": reader})
    assert signed.status_code == 200, signed.text
    r = await anon.get("/api/v1/auth/me", headers=basic)
    assert r.status_code == 200 and r.json()["via"] == "session", r.text


async def test_a_blank_second_key_header_is_no_second_key(anon: httpx.AsyncClient) -> None:
    """A valid Bearer key with an empty X-API-Key header (a client template that always
    sends both) was a 400 "two different API keys": a blank header names no key."""
    for blank in ("", "  "):
        headers = {**bearer(TEST_ADMIN_KEY), "X-API-Key": blank}
        r = await anon.get("/api/v1/memory/facts", headers=headers)
        assert r.is_success, r.text
    r = await anon.get("/api/v1/memory/facts", headers={**bearer("nonsense"), "X-API-Key": ""})
    assert r.status_code == 401, r.text


async def test_read_scope_may_only_read(anon: httpx.AsyncClient, make_key: KeyMaker) -> None:
    key = bearer(await make_key("reader", "read"))
    assert (
        await anon.get("/api/v1/memory/recall", params={"query": "x"}, headers=key)
    ).status_code == 200
    for method, path, body in (
        ("POST", "/api/v1/memory/remember", {"content": "x"}),
        ("POST", "/api/v1/planner/plan", {"intent": "x"}),
        ("POST", "/api/v1/observer/reflect", None),
        ("DELETE", "/api/v1/memory/facts/1", None),
    ):
        r = await anon.request(method, path, json=body, headers=key)
        assert r.status_code == 403, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert "'read'" in r.json()["detail"]


# A body of the type each route takes, so the answer is about the scope, not the body.
BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/memory/documents": {"files": {"file": ("a.md", b"# A")}},
    "/api/v1/calendar/import": {
        "content": b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        "headers": {"content-type": "text/calendar"},
    },
}


async def test_every_documented_write_refuses_a_read_key(
    auth_app: FastAPI, anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    key = bearer(await make_key("reader", "read"))
    checked = 0
    for method, path in _routes(auth_app):
        if method == "GET" or is_public(method, path) or (method, path) in ANY_SCOPE_ROUTES:
            continue
        body = BODIES.get(path, {"json": {}})
        extra = body.pop("headers", {}) if "headers" in body else {}
        r = await anon.request(method, path, headers={**key, **extra}, **body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
        checked += 1
    assert checked > 40


async def test_a_read_key_may_sign_out(anon: httpx.AsyncClient, make_key: KeyMaker) -> None:
    # Refused before (DELETE needed write): "Sign out" left the cookie valid.
    r = await anon.post("/api/v1/auth/session", json={"key": await make_key("viewer", "read")})
    csrf = r.json()["csrf_token"]
    r = await anon.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204, r.text
    assert (await anon.get("/api/v1/auth/me")).status_code == 401


ADMIN_ONLY = [
    ("DELETE", "/api/v1/memory/subjects/client/7", None),
    ("POST", "/api/v1/memory/retention", {"dry_run": True}),
    ("GET", "/api/v1/auth/keys", None),
    ("POST", "/api/v1/auth/keys", {"name": "x", "scope": "read"}),
    ("DELETE", "/api/v1/auth/keys/x", None),
    ("POST", "/api/v1/planner/prompts/daily_reflection/versions", {"content": "x"}),
    ("POST", "/api/v1/planner/prompts/daily_reflection/versions/v1/activate", None),
    ("GET", "/api/v1/jobs", None),
    ("GET", "/api/v1/jobs/1", None),
    ("GET", "/oauth/authorize", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_admin_routes_refuse_write_keys(
    anon: httpx.AsyncClient, make_key: KeyMaker, method: str, path: str, body: object
) -> None:
    key = bearer(await make_key("writer", "write"))
    r = await anon.request(method, path, json=body, headers=key)
    assert r.status_code == 403, r.text
    assert "'admin'" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_admin_routes_tell_read_keys_they_need_admin_not_write(
    anon: httpx.AsyncClient, make_key: KeyMaker, method: str, path: str, body: object
) -> None:
    """A read key on an admin route was told "DELETE needs 'write'"; with a write key it
    then got a second 403 for admin."""
    key = bearer(await make_key("reader", "read"))
    r = await anon.request(method, path, json=body, headers=key)
    assert r.status_code == 403, r.text
    assert "'admin'" in r.json()["detail"] and "'write'" not in r.json()["detail"], r.text


async def test_write_scope_writes(anon: httpx.AsyncClient, make_key: KeyMaker) -> None:
    key = bearer(await make_key("writer", "write"))
    r = await anon.post("/api/v1/memory/remember", json={"content": "write scope"}, headers=key)
    assert r.status_code == 201
    # Importing workflows is ordinary writing, not admin.
    r = await anon.post("/api/v1/planner/workflows/import", headers=key)
    assert r.status_code == 200, r.text


async def test_admin_routes_answer_admins(admin: httpx.AsyncClient) -> None:
    r = await admin.delete("/api/v1/memory/subjects/client/7")
    assert r.status_code == 200
    assert (await admin.get("/api/v1/jobs")).status_code == 200


async def test_health_without_a_key_is_the_status_only(
    anon: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    bare = await anon.get("/health")
    assert bare.status_code == 200 and set(bare.json()) == {"status"}
    full = (await admin.get("/health")).json()
    assert {"status", "version", "services", "dependencies"} <= set(full)
    # A wrong key on a public route is treated as no key, not as an error.
    assert set((await anon.get("/health", headers=bearer("alm_" + "z" * 43))).json()) == {"status"}
    # So are two different keys (a 400 elsewhere): neither is taken, /health still answers.
    two = {**bearer(TEST_ADMIN_KEY), "X-API-Key": "alm_" + "z" * 43}
    r = await anon.get("/health", headers=two)
    assert r.status_code == 200 and set(r.json()) == {"status"}, r.text


async def test_the_feed_has_its_own_token_and_events_need_a_key(
    anon: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    assert (await anon.get("/api/v1/calendar/feed.ics")).status_code == 401  # never open
    secret = (await admin.get("/api/v1/calendar/feed-url")).json()["path"]
    feed = await anon.get(secret)
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    assert (await anon.get("/api/v1/calendar/events", params=window)).status_code == 401


async def test_the_api_description_is_public(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/openapi.json")).status_code == 200
    assert (await anon.get("/docs")).status_code == 200


async def test_key_management_over_the_api(
    admin: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    r = await admin.post(KEYS, json={"name": "tool", "scope": "read"})
    assert r.status_code == 201
    key = r.json()["key"]
    listed = {k["name"]: k for k in (await admin.get(KEYS)).json()}
    assert listed["tool"]["scope"] == "read" and "key" not in listed["tool"]
    assert listed["tool"]["prefix"] == key[:12]
    assert key[12:] not in str(listed)
    assert (await admin.post(KEYS, json={"name": "tool", "scope": "read"})).status_code == 409
    bad = await admin.post(KEYS, json={"name": "a b", "scope": "root"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "scope"}
    me = (await anon.get("/api/v1/auth/me", headers=bearer(key))).json()
    assert me == {"name": "tool", "scope": "read", "via": "key", "timezone": me["timezone"]}
    assert (await admin.delete(f"{KEYS}/tool")).json()["revoked_at"] is not None
    # Revocation takes effect at once in this process, even though the key was cached.
    assert (await anon.get("/api/v1/auth/me", headers=bearer(key))).status_code == 401
    assert (await admin.delete(f"{KEYS}/tool")).status_code == 404
    names = {k["name"] for k in (await admin.get(KEYS, params={"include_revoked": True})).json()}
    assert "tool" in names


async def test_unknown_routes_need_a_key_too(auth_app: FastAPI) -> None:
    async with http_client(auth_app, key=None) as anon:
        assert (await anon.get("/api/v1/nothing-here")).status_code in (401, 404)


def test_mounts_outside_the_public_prefixes_are_reported(tmp_path: Path) -> None:
    """A mounted app skips dependencies; only the dashboard's public prefixes may mount."""
    app = create_app(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]
    assert unguarded_mounts(app.router.routes) == []
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    assert unguarded_mounts(app.router.routes) == []
    app.mount("/files", StaticFiles(directory=tmp_path), name="files")
    assert unguarded_mounts(app.router.routes) == ["/files"]


async def test_a_key_sent_without_its_scheme_is_not_echoed(
    anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    """`Authorization: KEY` (no "Bearer ") is no key; the 401 named the "scheme", which
    here is the key itself: its first 20 characters came back in the answer."""
    key = await make_key("no-scheme", "read")
    r = await anon.get("/api/v1/memory/facts", headers={"Authorization": key})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert key[4:12] not in r.text, r.text
    assert "Bearer" in r.json()["detail"]
    # A real scheme is still named, as it helps.
    r = await anon.get("/api/v1/memory/facts", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert "'Basic' scheme" in r.json()["detail"]


async def test_a_key_header_sent_twice_with_different_keys_is_a_400(
    anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    """Two `Authorization` (or two `X-API-Key`) headers with different keys: the first was
    taken without a word, where two different headers are a 400 (an outside fuzzer)."""
    reader = await make_key("twice", "read")
    for name, values in (
        ("Authorization", [f"Bearer {reader}", f"Bearer {TEST_ADMIN_KEY}"]),
        ("X-API-Key", [TEST_ADMIN_KEY, reader]),
    ):
        headers = [(name, v) for v in values]
        r = await anon.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["errors"][0]["field"] == name
        same = [(name, values[0]), (name, values[0])]  # the same key twice names one key
        assert (await anon.get("/api/v1/auth/me", headers=same)).is_success
