"""HTTP routes of the OAuth web flow: /oauth/authorize, /oauth/callback, /oauth/status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse

from almanac.auth.deps import AdminOnly
from almanac.deps import State, UoW
from almanac.oauth.schemas import ConnectedOut, OAuthStatusOut
from almanac.oauth.service import OAuthService
from almanac.problems import answers
from almanac.routing import open_query
from almanac.types import SafeStr

router = APIRouter(tags=["oauth"])


def get_oauth_service(uow: UoW, state: State) -> OAuthService:
    return OAuthService(uow, state.settings.calendar)


OAuth = Annotated[OAuthService, Depends(get_oauth_service)]


@router.get(
    "/oauth/authorize",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "To Google's consent page"}, **answers(503)},
    dependencies=[AdminOnly],
)
async def authorize(oauth: OAuth) -> RedirectResponse:
    """Redirect to Google's consent page (offline access, so Almanac can refresh tokens)."""
    return RedirectResponse(oauth.authorization_url(), status_code=307)


@router.get("/oauth/callback", responses=answers(503), openapi_extra=open_query())
async def callback(
    oauth: OAuth,
    code: Annotated[SafeStr | None, Query(max_length=4096)] = None,
    state: Annotated[SafeStr | None, Query(max_length=4096)] = None,
    error: Annotated[SafeStr | None, Query(max_length=200)] = None,
) -> ConnectedOut:
    """Where Google sends the user back: check `state`, store the tokens (encrypted).

    Public (no key: it is the browser following Google's redirect); `state` is the
    credential, signed and minted only by the admin-only `/oauth/authorize`.
    """
    return await oauth.callback(code, state, error)


@router.get("/oauth/status")
async def oauth_status(oauth: OAuth) -> OAuthStatusOut:
    """Whether Google Calendar is connected: ok, revoked, expired or not_connected."""
    return await oauth.status()
