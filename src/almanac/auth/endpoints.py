"""/api/v1/auth: key management (admin), dashboard sessions, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from almanac.auth.deps import (
    SESSION_COOKIE,
    AdminOnly,
    CurrentPrincipal,
    credentials,
)
from almanac.auth.principal import hash_secret
from almanac.auth.runtime import auth_runtime
from almanac.auth.schemas import KeyCreatedOut, KeyIn, KeyOut, MeOut, SessionIn, SessionOut
from almanac.auth.service import KeyService, SessionService
from almanac.deps import State, UoW
from almanac.errors import Unauthorized
from almanac.problems import answers
from almanac.types import SafeStr

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

NamePath = Annotated[SafeStr, Path(max_length=64)]


@router.get("/keys", dependencies=[AdminOnly])
async def list_keys(uow: UoW, include_revoked: bool = False) -> list[KeyOut]:
    """Every key: name, scope, prefix and usage, never the key itself."""
    return await KeyService(uow.session).list(include_revoked=include_revoked)


@router.post(
    "/keys", status_code=status.HTTP_201_CREATED, dependencies=[AdminOnly], responses=answers(409)
)
async def create_key(body: KeyIn, uow: UoW) -> KeyCreatedOut:
    """A new key, shown in this answer only."""
    return await KeyService(uow.session).create(body.name, body.scope)


@router.delete("/keys/{name}", dependencies=[AdminOnly], responses=answers(409))
async def revoke_key(name: NamePath, uow: UoW, state: State) -> KeyOut:
    """Revoke a key at once (in this process; others within `key_cache_seconds`)."""
    out, key_id = await KeyService(uow.session).revoke(name)
    runtime = auth_runtime(state)

    async def forget() -> None:
        runtime.forget(key_id=key_id)

    uow.after_commit(forget)
    return out


@router.post("/session", responses=answers(429))
async def open_session(
    body: SessionIn, request: Request, response: Response, uow: UoW, state: State
) -> SessionOut:
    """Sign in with a key: sets the `almanac_session` cookie; keep the CSRF token."""
    principal = await KeyService(uow.session).verify(body.key.strip())
    if principal is None:
        # Counted as a wrong key in a header is: the sign-in form was a way to try keys
        # without limit (and a database lookup each) after the API answered 429.
        address = request.client.host if request.client else "unknown"
        await auth_runtime(state).check_failure(address)
        raise Unauthorized("the API key is not valid (unknown, mistyped or revoked)")
    opened = await SessionService(uow.session).open(
        principal, state.settings.security.session_hours
    )
    response.set_cookie(
        SESSION_COOKIE,
        opened.session_token,
        max_age=int(state.settings.security.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return SessionOut(
        csrf_token=opened.csrf_token,
        scope=principal.scope,
        name=principal.name,
        expires_at=opened.expires_at,
    )


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(
    principal: CurrentPrincipal, request: Request, response: Response, uow: UoW, state: State
) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    if principal.session_id is not None:
        await SessionService(uow.session).close(principal.session_id)
        given = credentials(request)
        if given is not None:
            runtime = auth_runtime(state)
            token_hash = hash_secret(f"{given[0]}:{given[1]}")

            async def forget() -> None:
                runtime.forget(token_hash=token_hash)

            uow.after_commit(forget)
    out = Response(status_code=status.HTTP_204_NO_CONTENT)
    out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return out


@router.get("/me")
async def me(principal: CurrentPrincipal, state: State) -> MeOut:
    """The name and scope of the key (or session) this request is made with, and the
    user's time zone (the one the dashboard shows times in)."""
    return MeOut(
        name=principal.name,
        scope=principal.scope,
        via="session" if principal.session_id is not None else "key",
        timezone=state.settings.timezone,
    )
