"""Dashboard routes: `/` redirects to `/ui/`, pages under `/ui/`, assets under `/static/`.

Pages are shells (layout, landmarks, forms); their data comes from the REST API through
`static/app.js` with the session cookie, so there is no second path to the data.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from almanac import __version__
from almanac.deps import State

HERE = Path(__file__).parent
STATIC = HERE / "static"

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates


@cache
def templates() -> Jinja2Templates:
    """The page templates, loaded (with Jinja2) when the first page is shown."""
    from fastapi.templating import Jinja2Templates

    return Jinja2Templates(directory=HERE / "templates")


# (path segment, title, template); the order is the navigation's.
PAGES: tuple[tuple[str, str], ...] = (
    ("today", "Today"),
    ("week", "Week"),
    ("plans", "Plans"),
    ("memory", "Memory"),
    ("reflections", "Reflections"),
    ("prompts", "Prompts and models"),
    ("settings", "Settings and health"),
)
TITLES = dict(PAGES)

router = APIRouter(include_in_schema=False)


def _asset_version() -> str:
    """A hash of the assets, so browsers may cache them for a long time and still update."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def _features(request: Request) -> dict[str, bool]:
    """Which optional API endpoints this server has (built on other branches)."""
    cached: dict[str, bool] | None = getattr(request.app.state, "dashboard_features", None)
    if cached is not None:
        return cached
    paths = set(request.app.openapi().get("paths", {}))
    found = {
        "tasks": "/api/v1/planner/tasks" in paths,
        "preview": "/api/v1/planner/prompts/{name}/versions/{version}/preview" in paths,
        "memory": "/api/v1/memory/recall" in paths,
        "planner": "/api/v1/planner/plan" in paths,
    }
    request.app.state.dashboard_features = found
    return found


OPERATIONS = ("planning", "scheduling", "reflection", "extraction")


def _llm_config(state: State) -> dict[str, Any]:
    """The configured model per operation (from settings; no URL or key: the page is public)."""
    llm = state.settings.llm
    return {
        "provider": llm.provider,
        "models": {op: llm.models.get(op) or llm.model for op in OPERATIONS},
        "daily_planning_cap": llm.daily_planning_cap,
    }


def _calendar_config(state: State) -> dict[str, Any]:
    """Which calendar is used; no URL, user name or secret (these pages are public)."""
    cal = state.settings.calendar
    return {
        "provider": cal.provider,
        "feed_token": cal.ics_feed_token is not None,
        "google_ready": bool(cal.google_client_id and cal.google_client_secret),
    }


# No inline script or style anywhere (scripts build the DOM; styles are set through the CSSOM);
# the other headers (nosniff, no framing, referrer) come from `headers.SecurityHeaders`.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _render(request: Request, state: State, page: str, **extra: Any) -> HTMLResponse:
    context = {
        "page": page,
        "title": TITLES.get(page, "Sign in"),
        "pages": PAGES,
        "timezone": state.settings.timezone,
        "features": _features(request),
        "version": __version__,
        "asset": ASSET_VERSION,
        "scheduler": state.settings.scheduler,
        "llm": _llm_config(state),
        "calendar": _calendar_config(state),
        **extra,
    }
    response = templates().TemplateResponse(request, f"{page}.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@router.get("/ui")
@router.get("/ui/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/today", status_code=307)


@router.get("/ui/signin", response_class=HTMLResponse)
async def signin(request: Request, state: State) -> Response:
    return _render(request, state, "signin")


def _page_route(page: str) -> None:
    async def show(request: Request, state: State) -> Response:
        return _render(request, state, page)

    show.__name__ = f"page_{page}"
    router.add_api_route(f"/ui/{page}", show, methods=["GET"], response_class=HTMLResponse)


for _page, _title in PAGES:
    _page_route(_page)


class _CachedStatic(StaticFiles):
    """Assets are addressed with ?v=<hash of the assets>, so they can be cached for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount(app: FastAPI) -> None:
    """Add the dashboard to an app that has the Planner (and usually the Gateway)."""
    app.include_router(router)
    app.mount("/static", _CachedStatic(directory=STATIC), name="static")
