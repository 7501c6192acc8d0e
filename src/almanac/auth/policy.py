"""Which requests need which scope: the one place that lists what is public.

Every route needs a key: `authenticate` is a dependency of the whole app (set in
`create_app`), so a router added later is protected without doing anything. The scope a
method needs by default is below; admin-only routes add `AdminOnly` where they are
declared. The public exceptions are this short list and nothing else:

- `GET /health`: without a key only the overall status; with one the full detail.
- `GET /api/v1/calendar/feed.ics`: calendar apps cannot send headers, so the route itself
  checks its own secret token in the URL (`calendar.ics_feed_token`, else the one generated
  into `<data_dir>/ics-feed-token`) or a key; it is never open (`calendars.feed_token`).
- `GET /oauth/callback`: reached by Google's redirect of the user's browser, which carries
  no key (and a SameSite=Strict cookie is not sent on a cross-site redirect). It is
  protected by the `state` parameter instead: Fernet-signed, expiring, bound to a PKCE
  verifier, and minted only by `/oauth/authorize`, which is admin-only.
- `POST /api/v1/auth/session`: signing in, with the key in the body.
- `/openapi.json`, `/docs`, `/redoc`: the API's description, no data (Starlette routes
  outside the dependency system, so public by construction; listed here for clarity).
- `/`, `/ui/...` and `/static/...` pages of the dashboard (sign-in page and assets; the
  data they show still comes from the API with a session).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount

from almanac.auth.principal import Scope

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/api/v1/calendar/feed.ics"),
        ("GET", "/oauth/callback"),
        ("POST", "/api/v1/auth/session"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/"),
    }
)
PUBLIC_PREFIXES: tuple[str, ...] = ("/ui/", "/static/")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_public(method: str, path: str) -> bool:
    """True for the listed public routes (HEAD as GET) and the dashboard's static pages."""
    verb = "GET" if method in ("HEAD", "OPTIONS") else method
    if (verb, path) in PUBLIC_ROUTES:
        return True
    return verb == "GET" and (path == "/ui" or path.startswith(PUBLIC_PREFIXES))


def unguarded_mounts(routes: Iterable[BaseRoute]) -> list[str]:
    """Mounted apps (static files, sub-apps) outside the public prefixes.

    A mount bypasses the app's dependencies, so it would be public without a key.
    """
    allowed = {"", "/"} | {p.rstrip("/") for p in (*PUBLIC_PREFIXES, "/ui")}
    return [r.path for r in routes if isinstance(r, Mount) and r.path not in allowed]


# Signing out ends only the caller's own session: a read-scoped dashboard user must be
# able to (refused, the cookie stayed valid after "Sign out").
ANY_SCOPE_ROUTES: frozenset[tuple[str, str]] = frozenset({("DELETE", "/api/v1/auth/session")})


def method_scope(method: str, path: str = "") -> Scope:
    """GET, HEAD and OPTIONS read; every other method writes (but `ANY_SCOPE_ROUTES`)."""
    if method in SAFE_METHODS or (method, path) in ANY_SCOPE_ROUTES:
        return "read"
    return "write"
