"""Authentication as FastAPI dependencies: `authenticate` (app-wide), `require_scope`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from almanac.auth.policy import SAFE_METHODS, is_public, method_scope
from almanac.auth.principal import Principal, Scope, hash_secret, same_hash, scope_allows
from almanac.auth.runtime import COUNTED_UPSTREAM, auth_runtime
from almanac.auth.service import KeyService, SessionService
from almanac.deps import State, UoW
from almanac.errors import AlmanacError, DatabaseUnavailable, Forbidden, Unauthorized

SESSION_COOKIE = "almanac_session"
CSRF_HEADER = "X-CSRF-Token"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="almanac"'}
_MAX_TOKEN = 200
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,19}")  # an auth scheme's name (RFC 9110)
# A public route (/health, the sign-in page) waits at most this for the key lookup, then
# answers as for an anonymous caller: /health must say the database is down, not hang
# with it.
PUBLIC_LOOKUP_SECONDS = 2.0


def credentials(request: Request) -> tuple[str, str] | None:
    """("key", key) from `Authorization: Bearer` or `X-API-Key`, else ("session", cookie).

    Both headers with different keys are a 400: neither is taken. Another `Authorization`
    scheme (a proxy's `Basic` login) is not a key: the other two are read as without it.
    """
    auths = request.headers.getlist("authorization")
    bearers = [a for a in auths if a.partition(" ")[0].lower() == "bearer"]
    _one_key(bearers, "Authorization", lambda a: a.partition(" ")[2].strip())
    _one_key(request.headers.getlist("x-api-key"), "X-API-Key", str.strip)
    auth = bearers[0] if bearers else (auths[0] if auths else None)
    key = request.headers.get("x-api-key")
    scheme, _, value = (auth or "").partition(" ")
    if auth and scheme.lower() == "bearer":
        if not value.strip():
            return "key", ""  # "Bearer " names a key, an empty (wrong) one
        if key is not None and key.strip() and key.strip() != value.strip():
            # Which one counts would be a guess (a proxy may check the other): refuse both.
            # A blank X-API-Key names no key (clients that always send both headers).
            raise AlmanacError(
                "the request sends two different API keys (Authorization and X-API-Key): send one",
                errors=[
                    {"field": name, "message": "differs from the other key header"}
                    for name in ("Authorization", "X-API-Key")
                ],
                headers=_CHALLENGE,
            )
        return "key", value.strip()[:_MAX_TOKEN]
    if key is not None:
        return "key", key.strip()[:_MAX_TOKEN]
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return "session", cookie[:_MAX_TOKEN]
    if auth:
        # Name a scheme ("Basic ...") but never echo a bare value: it may be the key itself.
        named = _SCHEME.fullmatch(scheme) is not None and value.strip() != ""
        what = f"uses the {scheme!r} scheme, which" if named else "is not 'Bearer KEY', so it"
        raise Unauthorized(
            f"the Authorization header {what} carries no API key: send"
            " 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            errors=[{"field": "Authorization", "message": "not a Bearer key"}],
            headers=_CHALLENGE,
        )
    return None


def _one_key(values: list[str], header: str, key_of: Callable[[str], str]) -> None:
    """A key header sent twice with different keys is a 400, as two different headers are:
    the first was taken, and a proxy appending its own changed who the caller was."""
    if len({key_of(v) for v in values} - {""}) > 1:
        raise AlmanacError(
            f"the request sends {header} twice with different API keys: send one",
            errors=[{"field": header, "message": "given twice with different keys"}],
            headers=_CHALLENGE,
        )


async def _verify(state: State, uow: UoW, kind: str, token: str) -> tuple[Principal, str] | None:
    runtime = auth_runtime(state)
    token_hash = hash_secret(f"{kind}:{token}")
    hit = runtime.cached(token_hash)
    if hit is not None:
        return hit
    if kind == "key":
        principal = await KeyService(uow.session).verify(token)
        found = None if principal is None else (principal, "")
    else:
        found = await SessionService(uow.session).resolve(token)
    if found is not None:
        runtime.remember(token_hash, found[0], found[1])
    return found


# Declared for the OpenAPI document (the "Authorize" button in /docs); `credentials`
# parses the headers itself (another scheme is no key, and says so).
_Bearer = Annotated[
    HTTPAuthorizationCredentials | None, Security(HTTPBearer(auto_error=False, scheme_name="key"))
]
_Header = Annotated[
    str | None, Security(APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="x-api-key"))
]


async def authenticate(
    request: Request, state: State, uow: UoW, _bearer: _Bearer, _header: _Header
) -> Principal | None:
    """Who is calling, checked against the method's scope and the key's rate limit.

    Public routes (`policy.is_public`) let anonymous requests through with None.
    """
    method, path = request.method, request.url.path
    public = is_public(method, path)
    try:
        given = credentials(request)
    except AlmanacError:
        if public:  # two different keys, or no key but another scheme's: as anonymous here
            return None
        raise
    if given is None:
        if public:
            return None
        raise Unauthorized(
            "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            headers=_CHALLENGE,
        )
    kind, token = given
    try:
        if not token:
            found = None
        elif public:
            async with asyncio.timeout(PUBLIC_LOOKUP_SECONDS):
                found = await _verify(state, uow, kind, token)
        else:
            found = await _verify(state, uow, kind, token)
    except (DatabaseUnavailable, TimeoutError):
        if public:  # /health must still answer, and say the database is down
            await uow.rollback()
            return None
        raise
    if found is None:
        if public:  # a stale cookie must not block the sign-in page or /health
            return None
        address = request.client.host if request.client else "unknown"
        await auth_runtime(state).check_failure(address)
        what = (
            "the session has expired or was signed out"
            if kind == "session"
            else ("the API key is not valid (unknown, mistyped or revoked)")
        )
        raise Unauthorized(what, headers=_CHALLENGE)
    principal, csrf_hash = found
    request.state.principal = principal
    if public:
        return principal
    if kind == "session" and method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER.lower(), "")[:_MAX_TOKEN]
        if not sent or not same_hash(hash_secret(sent), csrf_hash):
            raise Forbidden(f"a request signed in by cookie must send the {CSRF_HEADER} header")
    needed = "admin" if _admin_route(request) else method_scope(method, path)
    if not scope_allows(principal.scope, needed):
        raise Forbidden(
            f"key {principal.name!r} has scope {principal.scope!r}; {method} needs {needed!r}"
        )
    runtime = auth_runtime(state)
    await runtime.check_rate(
        principal,
        write=method not in SAFE_METHODS,
        counted=bool(request.scope.get(COUNTED_UPSTREAM)),
    )
    runtime.record(principal.key_id)
    if runtime.flush_due():
        await runtime.flush(state.sessionmaker)
    return principal


def _admin_route(request: Request) -> bool:
    """Whether the matched route declares `AdminOnly`: its refusal names 'admin' at once
    (a read key was told a DELETE "needs 'write'", and with a write key it met admin)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    pending = list(dependant.dependencies) if dependant is not None else []
    while pending:
        sub = pending.pop()
        if sub.call is AdminOnly.dependency:
            return True
        pending.extend(sub.dependencies)
    return False


MaybePrincipal = Annotated[Principal | None, Depends(authenticate)]


def require_principal(principal: MaybePrincipal) -> Principal:
    if principal is None:
        raise Unauthorized("an API key is required", headers=_CHALLENGE)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def require_scope(scope: Scope) -> Any:
    """A dependency (for `dependencies=[...]`) refusing keys below `scope` with 403."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not scope_allows(principal.scope, scope):
            raise Forbidden(
                f"this needs the {scope!r} scope; key {principal.name!r} has {principal.scope!r}"
            )
        return principal

    return Depends(check)


AdminOnly = require_scope("admin")
