"""The OAuth web flow over HTTP, with google-auth-oauthlib talking to the Google test double."""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import requests
from cryptography.fernet import Fernet
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import CalendarSettings
from almanac.models.calendar import OAuthCredential
from almanac.oauth import service
from almanac.oauth.crypto import TokenCipher
from almanac.oauth.repository import OAuthCredentialRepository
from almanac.state import AppState
from tests.conftest import app_in_transaction, http_client
from tests.doubles.google_calendar import CLIENT_ID, CLIENT_SECRET, SCOPES, FakeGoogle

KEY = Fernet.generate_key().decode()
REDIRECT = "http://127.0.0.1:8090/oauth/callback"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as double:
        yield double


def google_settings(google: FakeGoogle, **overrides: object) -> CalendarSettings:
    values: dict[str, object] = {
        "provider": "google",
        "google_client_id": CLIENT_ID,
        "google_client_secret": CLIENT_SECRET,
        "google_api_base_url": google.root_url,
        "google_token_uri": google.token_uri,
        "google_auth_uri": google.root_url + "auth",
        "google_redirect_uri": REDIRECT,
        "token_key": KEY,
    }
    values.update(overrides)
    return TypeAdapter(CalendarSettings).validate_python(values)


def app_client(
    state: AppState, db_session: AsyncSession, calendar: CalendarSettings
) -> httpx.AsyncClient:
    """The app (as tests/conftest.py builds it) with these calendar settings."""
    current = dataclasses.replace(
        state, settings=state.settings.model_copy(update={"calendar": calendar})
    )
    return http_client(app_in_transaction(current, db_session))


@pytest.fixture
async def oauth_client(
    state: AppState, db_session: AsyncSession, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    # oauthlib refuses plain http token endpoints; the double listens on http://127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    async with app_client(state, db_session, google_settings(google)) as client:
        yield client


async def authorize(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.get("/oauth/authorize")
    assert answer.status_code == 307, answer.text
    location = answer.headers["location"]
    query = {
        k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).items()
    }
    query["_url"] = location
    return query


async def test_authorize_redirects_to_consent_with_offline_access_and_state(
    oauth_client: httpx.AsyncClient, google: FakeGoogle
) -> None:
    query = await authorize(oauth_client)
    assert query["_url"].startswith(google.root_url + "auth?")
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT
    assert set(query["scope"].split()) == set(SCOPES)
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert len(query["state"]) > 40
    # The state is signed: it reads back with the key, and holds the PKCE verifier.
    assert TokenCipher(KEY).read_state(query["state"], 600)["v"]


async def test_callback_stores_encrypted_tokens_and_status_reports_ok(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    never = (await oauth_client.get("/oauth/status")).json()
    assert never["status"] == "not_connected"
    assert "again" not in never["detail"] and "not connected yet" in never["detail"]
    query = await authorize(oauth_client)
    code = google.issue_code("code-1", challenge=query["code_challenge"])

    answer = await oauth_client.get(
        "/oauth/callback", params={"code": code, "state": query["state"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "connected" and body["provider"] == "google"
    assert body["refresh_token"] is True and set(body["scopes"]) == set(SCOPES)

    (exchange,) = google.token_requests
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    row = (await db_session.scalars(select(OAuthCredential))).one()
    (access,) = google.access_tokens
    (refresh,) = google.refresh_tokens
    assert access.encode() not in row.token_encrypted
    assert refresh.encode() not in row.token_encrypted
    assert TokenCipher(KEY).decrypt(row.token_encrypted) == {
        "access_token": access,
        "refresh_token": refresh,
    }
    status = (await oauth_client.get("/oauth/status")).json()
    assert status["status"] == "ok" and set(status["scopes"]) == set(SCOPES)
    assert status["expires_at"] is not None


async def test_callback_with_tampered_state_is_a_400_naming_state(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    query = await authorize(oauth_client)
    code = google.issue_code("code-2", challenge=query["code_challenge"])
    state = query["state"]
    tampered = state[:-6] + ("AAAAAA" if not state.endswith("AAAAAA") else "BBBBBB")

    answer = await oauth_client.get("/oauth/callback", params={"code": code, "state": tampered})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "state"
    assert google.token_requests == []  # the code was never exchanged
    assert (await db_session.scalars(select(OAuthCredential))).all() == []


async def test_callback_with_expired_state_is_a_400(
    oauth_client: httpx.AsyncClient, google: FakeGoogle
) -> None:
    old = TokenCipher(KEY).make_state({"v": "x" * 50}, issued_at=int(time.time()) - 3600)
    answer = await oauth_client.get("/oauth/callback", params={"code": "c", "state": old})
    assert answer.status_code == 400 and "expired" in answer.json()["detail"]
    assert answer.json()["errors"][0]["field"] == "state"


async def test_a_state_brought_back_twice_is_refused_even_with_a_new_code(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    # Before: a state was checked for its signature and age only, so for ten minutes it
    # connected whatever account a code for its PKCE challenge came from, as often as sent.
    query = await authorize(oauth_client)
    first = google.issue_code("code-once", challenge=query["code_challenge"])
    answer = await oauth_client.get(
        "/oauth/callback", params={"code": first, "state": query["state"]}
    )
    assert answer.status_code == 200, answer.text
    stored = (await db_session.scalars(select(OAuthCredential))).one().token_encrypted

    second = google.issue_code("code-again", challenge=query["code_challenge"])
    replay = await oauth_client.get(
        "/oauth/callback", params={"code": second, "state": query["state"]}
    )
    assert replay.status_code == 400, replay.text
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert replay.json()["errors"][0]["field"] == "state"
    assert "already been used" in replay.json()["detail"]
    assert len(google.token_requests) == 1  # the second code was never exchanged
    db_session.expire_all()
    row = (await db_session.scalars(select(OAuthCredential))).one()
    assert row.token_encrypted == stored

    # A new consent still connects.
    fresh = await authorize(oauth_client)
    code = google.issue_code("code-fresh", challenge=fresh["code_challenge"])
    again = await oauth_client.get(
        "/oauth/callback", params={"code": code, "state": fresh["state"]}
    )
    assert again.status_code == 200, again.text


async def test_a_state_retyped_to_read_the_same_is_still_refused(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    """Before: a state was spent by its text, and Fernet's base64 decoding skips characters
    outside its alphabet, so the state with "!" (or a space, a newline) added read as the
    same state, was not spent, and connected another account's code."""
    query = await authorize(oauth_client)
    first = google.issue_code("code-one", challenge=query["code_challenge"])
    params = {"code": first, "state": query["state"]}
    assert (await oauth_client.get("/oauth/callback", params=params)).status_code == 200
    stored = (await db_session.scalars(select(OAuthCredential))).one().token_encrypted
    for suffix, code in (("!", "code-two"), (" ", "code-three"), (".", "code-four")):
        second = google.issue_code(code, challenge=query["code_challenge"])
        params = {"code": second, "state": query["state"] + suffix}
        replay = await oauth_client.get("/oauth/callback", params=params)
        assert replay.status_code == 400, replay.text
        assert "already been used" in replay.json()["detail"]
    assert len(google.token_requests) == 1
    db_session.expire_all()
    assert (await db_session.scalars(select(OAuthCredential))).one().token_encrypted == stored


def test_spent_states_forget_a_state_once_it_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    spent = service.SpentStates()
    assert spent.claim("s1", 600) and not spent.claim("s1", 600)
    now[0] += 601  # the state itself no longer reads: nothing to keep
    assert spent.claim("s2", 600)
    assert list(spent._until) == [service.hashlib.sha256(b"s2").hexdigest()]


async def test_callback_with_a_rejected_code_is_a_400_naming_code(
    oauth_client: httpx.AsyncClient,
) -> None:
    query = await authorize(oauth_client)
    answer = await oauth_client.get(
        "/oauth/callback", params={"code": "never-issued", "state": query["state"]}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == "code"


async def test_callback_when_the_user_declines(oauth_client: httpx.AsyncClient) -> None:
    query = await authorize(oauth_client)
    answer = await oauth_client.get(
        "/oauth/callback", params={"error": "access_denied", "state": query["state"]}
    )
    assert answer.status_code == 400 and "access_denied" in answer.json()["detail"]


async def test_missing_client_credentials_are_a_clear_problem_not_a_500(
    state: AppState, db_session: AsyncSession, google: FakeGoogle
) -> None:
    # Google can be connected before it becomes the calendar provider: checked on use.
    calendar = google_settings(
        google, provider="builtin", google_client_id=None, google_client_secret=None
    )
    async with app_client(state, db_session, calendar) as client:
        answer = await client.get("/oauth/authorize")
    assert answer.status_code == 503
    problem = answer.json()
    assert "calendar.google_client_id" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {
        "calendar.google_client_id",
        "calendar.google_client_secret",
    }


async def test_missing_token_key_is_a_clear_problem(
    state: AppState, db_session: AsyncSession, google: FakeGoogle
) -> None:
    async with app_client(
        state, db_session, google_settings(google, provider="builtin", token_key=None)
    ) as client:
        answer = await client.get("/oauth/authorize")
    assert answer.status_code == 503 and "token_key" in answer.json()["detail"]


async def test_status_reports_a_revoked_credential(
    oauth_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    repo = OAuthCredentialRepository(db_session)
    await repo.upsert(
        "google",
        token_encrypted=TokenCipher(KEY).encrypt({"access_token": "a", "refresh_token": "r"}),
        scopes=list(SCOPES),
        expires_at=None,
    )
    await repo.set_status("google", "revoked", "invalid_grant: Token has been expired or revoked.")
    body = (await oauth_client.get("/oauth/status")).json()
    assert body["status"] == "revoked" and "invalid_grant" in body["detail"]


async def test_a_consent_without_every_scope_is_a_400_naming_scope_and_stores_nothing(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    """Google's granular consent lets the user untick a permission; oauthlib then raises
    (not warns) "Scope has changed", which escaped as a 500."""
    google.granted_scopes = SCOPES[:1]
    query = await authorize(oauth_client)
    code = google.issue_code("narrow", challenge=query["code_challenge"])
    params = {"code": code, "state": query["state"]}
    answer = await oauth_client.get("/oauth/callback", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"] == [{"field": "scope", "message": f"missing {SCOPES[1]}"}]
    assert (await db_session.scalars(select(OAuthCredential))).all() == []


async def test_a_consent_with_an_extra_scope_connects(
    oauth_client: httpx.AsyncClient, google: FakeGoogle
) -> None:
    google.granted_scopes = (*SCOPES, "openid")
    query = await authorize(oauth_client)
    code = google.issue_code("extra", challenge=query["code_challenge"])
    params = {"code": code, "state": query["state"]}
    answer = await oauth_client.get("/oauth/callback", params=params)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["scopes"]) == {*SCOPES, "openid"}
    assert answer.json()["expires_at"] is not None


async def test_a_token_endpoint_5xx_is_a_503_not_a_rejected_code(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    """A 502 page from Google's token endpoint read as a token answer without a token: a
    400 saying Google rejected the code, when Google had failed."""
    google.token_page = (502, "<html><body>Bad Gateway</body></html>")
    query = await authorize(oauth_client)
    code = google.issue_code("down", challenge=query["code_challenge"])
    params = {"code": code, "state": query["state"]}
    answer = await oauth_client.get("/oauth/callback", params=params)
    assert answer.status_code == 503, answer.text
    assert "answered 502" in answer.json()["detail"] and answer.headers["retry-after"] == "30"
    assert (await db_session.scalars(select(OAuthCredential))).all() == []


async def test_a_state_whose_exchange_failed_at_google_can_be_brought_back(
    oauth_client: httpx.AsyncClient, google: FakeGoogle, db_session: AsyncSession
) -> None:
    """Before: the state was spent by the failed exchange, so reloading the callback page
    once Google answered again was "state has already been used", though Google had not
    taken the code; the user had to consent all over again."""
    google.token_page = (502, "<html><body>Bad Gateway</body></html>")
    query = await authorize(oauth_client)
    code = google.issue_code("retry-me", challenge=query["code_challenge"])
    params = {"code": code, "state": query["state"]}
    assert (await oauth_client.get("/oauth/callback", params=params)).status_code == 503
    google.token_page = None
    again = await oauth_client.get("/oauth/callback", params=params)
    assert again.status_code == 200, again.text
    assert len((await db_session.scalars(select(OAuthCredential))).all()) == 1
    # Once connected, the state is spent as before.
    replay = await oauth_client.get("/oauth/callback", params=params)
    assert replay.status_code == 400 and "already been used" in replay.json()["detail"]


async def test_another_warning_is_not_reported_as_a_scope_change(
    oauth_client: httpx.AsyncClient,
    google: FakeGoogle,
    db_session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any `Warning` raised during the exchange read as "Google granted only no scope":
    only oauthlib's scope-change warning (which carries the token) is a consent."""

    def warns(response: requests.Response) -> requests.Response:
        # What `-W error` makes of a library's deprecation warning during the exchange.
        raise DeprecationWarning("a library's deprecation, raised as an error")

    monkeypatch.setattr(service, "_answered", warns)
    query = await authorize(oauth_client)
    code = google.issue_code("warned", challenge=query["code_challenge"])
    params = {"code": code, "state": query["state"]}
    # It stays what it is, an unexpected error (the server logs it and answers a 500; the
    # in-process client raises it), not a 400 "Google granted only no scope".
    with pytest.raises(DeprecationWarning, match="a library's deprecation"):
        await oauth_client.get("/oauth/callback", params=params)
    assert (await db_session.scalars(select(OAuthCredential))).all() == []
    assert len(google.token_requests) == 1  # the exchange ran, through the real client


async def test_status_before_setup_says_what_connecting_takes(
    state: AppState, db_session: AsyncSession
) -> None:
    """Without the OAuth client and token key, /oauth/authorize answers 503 "not configured",
    and the status still told the user to open it (an outside probe of the dashboard)."""
    # Google not chosen yet (the built-in calendar), only its client id set so far.
    bare = TypeAdapter(CalendarSettings).validate_python(
        {"provider": "builtin", "google_client_id": CLIENT_ID}
    )
    async with app_client(state, db_session, bare) as client:
        detail = (await client.get("/oauth/status")).json()["detail"]
        assert "ALMANAC_CALENDAR__GOOGLE_CLIENT_SECRET" in detail
        assert "ALMANAC_CALENDAR__TOKEN_KEY" in detail
        assert "GOOGLE_CLIENT_ID" not in detail  # it is set
        assert (await client.get("/oauth/authorize")).status_code == 503
