"""Keys: random, stored only as a hash, found by prefix, compared in constant time."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.auth import service as service_module
from almanac.auth.principal import key_prefix, scope_allows
from almanac.auth.service import KeyService, SessionService, ensure_admin_key
from almanac.errors import Conflict, NotFound


async def test_a_key_is_stored_only_as_its_hash(db_session: AsyncSession) -> None:
    created = await KeyService(db_session).create("laptop", "write")
    assert created.key.startswith("alm_") and len(created.key) >= 40
    assert created.prefix == key_prefix(created.key)
    row = (
        (await db_session.execute(text("SELECT * FROM api_keys WHERE name = 'laptop'")))
        .one()
        ._asdict()
    )
    assert row["key_hash"] == hashlib.sha256(created.key.encode()).hexdigest()
    secret_part = created.key[len(created.prefix) :]
    assert not any(secret_part in str(v) for v in row.values())


async def test_keys_are_random_and_names_unique(db_session: AsyncSession) -> None:
    keys = KeyService(db_session)
    a = await keys.create("a", "read")
    b = await keys.create("b", "read")
    assert a.key != b.key and a.prefix != b.prefix
    with pytest.raises(Conflict):
        await keys.create("a", "admin")


async def test_verify_right_wrong_and_revoked(db_session: AsyncSession) -> None:
    keys = KeyService(db_session)
    created = await keys.create("phone", "read")
    principal = await keys.verify(created.key)
    assert principal is not None and (principal.name, principal.scope) == ("phone", "read")
    # Same prefix, one character changed at the end: refused.
    tampered = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")
    assert await keys.verify(tampered) is None
    assert await keys.verify("alm_" + "x" * 43) is None
    assert await keys.verify("not-a-key") is None
    await keys.revoke("phone")
    assert await keys.verify(created.key) is None
    with pytest.raises(NotFound):
        await keys.revoke("phone")


async def test_every_verification_compares_a_hash_in_constant_time(
    db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown prefix costs the same comparison as a near miss (no early return)."""
    calls: list[tuple[str, str]] = []
    real = service_module.same_hash

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(service_module, "same_hash", spy)
    keys = KeyService(db_session)
    created = await keys.create("spy", "read")
    await keys.verify("alm_zzzzzzzz" + "y" * 40)
    await keys.verify(created.key[:-2] + "zz")
    await keys.verify(created.key)
    assert len(calls) == 3
    assert all(len(a) == len(b) == 64 for a, b in calls)


def test_scopes_are_ordered() -> None:
    assert scope_allows("admin", "write") and scope_allows("write", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")
    assert not scope_allows("bogus", "read")


async def test_first_admin_key_only_when_none_is_active(db_session: AsyncSession) -> None:
    # The run's test admin key exists, so nothing is created.
    assert await ensure_admin_key(db_session) is None
    await db_session.execute(text("UPDATE api_keys SET revoked_at = now()"))
    created = await ensure_admin_key(db_session)
    assert created is not None and created.scope == "admin" and created.name == "admin"
    assert await ensure_admin_key(db_session) is None


async def test_revoking_a_key_ends_its_sessions(db_session: AsyncSession) -> None:
    keys = KeyService(db_session)
    created = await keys.create("dash", "write")
    principal = await keys.verify(created.key)
    assert principal is not None
    sessions = SessionService(db_session)
    opened = await sessions.open(principal, hours=1)
    assert await sessions.resolve(opened.session_token) is not None
    await keys.revoke("dash")
    assert await sessions.resolve(opened.session_token) is None


async def test_the_last_active_admin_key_is_not_revoked(db_session: AsyncSession) -> None:
    """Before: `almanac keys revoke admin` revoked the only admin key, the one the CLI on
    the data folder sends: every command was then refused (401) until a restart."""
    keys = KeyService(db_session)
    solo = await keys.create("solo", "admin")
    await keys.create("helper", "write")
    await db_session.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE scope = 'admin' AND name <> 'solo'")
    )
    with pytest.raises(Conflict, match="last active admin key") as caught:
        await keys.revoke("solo")
    assert caught.value.errors == [{"field": "name", "message": "the last active admin key"}]
    # The command it names runs as written ("keys create --scope admin" lacked --name).
    assert "almanac keys create --name NAME --scope admin" in caught.value.message
    assert await keys.verify(solo.key) is not None  # still works
    await keys.revoke("helper")  # other scopes go as before
    await keys.create("spare", "admin")
    out, _ = await keys.revoke("solo")  # with another admin, it goes
    assert out.revoked_at is not None
