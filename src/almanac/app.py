"""Application factories: the Memory Gateway, the Planner API, or both in one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Literal, TypedDict

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from almanac import __version__, offload, openapi, problems
from almanac.auth.deps import authenticate
from almanac.auth.endpoints import router as auth_router
from almanac.background import install_forgetters, task_blueprints
from almanac.backup.endpoints import router as export_router
from almanac.calendars.endpoints import router as calendar_router
from almanac.calendars.feed_token import feed_token
from almanac.config import Settings, configured_secrets
from almanac.context.endpoints import router as context_router
from almanac.graph.endpoints import router as graph_router
from almanac.health import router as health_router
from almanac.jobs.endpoints import router as jobs_router
from almanac.jobs.worker import start_embedded_worker, stop_embedded_worker
from almanac.mcp.http import PATH as MCP_PATH
from almanac.mcp.http import McpMount, too_large
from almanac.memory.documents.endpoints import router as documents_router
from almanac.memory.endpoints import REMEMBER_HINT
from almanac.memory.endpoints import router as memory_router
from almanac.memtrim import trim_every
from almanac.oauth.endpoints import router as oauth_router
from almanac.observer.endpoints import router as observer_router
from almanac.observer.preview import router as preview_router
from almanac.ontology.endpoints import router as ontology_router
from almanac.planner.endpoints import router as planner_router
from almanac.redact import install_log_filters
from almanac.routing import checked_query
from almanac.scheduler.endpoints import router as scheduler_router
from almanac.scheduler.preferences import remember_hint
from almanac.startup import open_state
from almanac.state import AppState
from almanac.tasks.endpoints import plans_router as plan_status_router
from almanac.tasks.endpoints import router as tasks_router
from almanac.tasks.endpoints import runs_router as run_stop_router
from almanac.web import SecurityHeaders
from almanac.web import mount as mount_dashboard

logger = logging.getLogger(__name__)

Service = Literal["memory", "planner"]
ALL_SERVICES: tuple[Service, ...] = ("memory", "planner")


# Where `GET /` leads: the dashboard where the Planner is served, else the API docs.
DASHBOARD, DOCS = "/ui/", "/docs"
# How often a server gives freed heap back to the OS (a few ms each; see memtrim).
TRIM_SECONDS = 10.0


class LifespanState(TypedDict):
    almanac: AppState


def create_app(
    settings: Settings | None = None,
    services: Iterable[Service] = ALL_SERVICES,
    state: AppState | None = None,
) -> FastAPI:
    """Build the ASGI app. Pass `state` to share one already built (tests, embedding)."""
    chosen = list(dict.fromkeys(services))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[LifespanState]:
        owned = state is None
        current = state if state is not None else await open_state(settings or Settings())
        # The feed's token is made on first start (not on the first poll) and masked in logs.
        install_log_filters([*configured_secrets(current.settings), feed_token(current.settings)])
        current.services = list(chosen)
        from almanac.auth.policy import unguarded_mounts

        if stray := unguarded_mounts(app.router.routes):
            raise RuntimeError(f"mounted outside /, /ui and /static (public, no key): {stray}")
        from almanac.auth.bootstrap import ensure_first_key, ensure_planner_key

        if owned:
            await ensure_first_key(current)
        if "memory" not in chosen:  # the Planner run apart: its own key for the Gateway
            await ensure_planner_key(current)
        # The one-process deployment runs a worker too; a state passed in (tests, embedding)
        # brings its own.
        worker = (
            await start_embedded_worker(current, task_blueprints())
            if owned and "planner" in chosen
            else None
        )
        # A server of its own gives back what a burst freed (see memtrim).
        trimmer = asyncio.create_task(trim_every(TRIM_SECONDS)) if owned else None
        try:
            if mcp is None:
                yield {"almanac": current}
            else:
                async with mcp.running():
                    yield {"almanac": current}
        finally:
            if trimmer is not None:
                trimmer.cancel()
            offload.shutdown_all()
            await stop_embedded_worker(worker)
            if owned:
                await current.close()

    titles = {"memory": "Memory Gateway", "planner": "Planner API"}
    app = FastAPI(
        title="Almanac " + " + ".join(titles[s] for s in chosen),
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        # Every route, including those of routers added later, needs a key unless
        # `auth.policy` lists it as public; then its query holds only names it takes
        # (`routing.checked_query`: a misspelt parameter was read as absent).
        dependencies=[Depends(authenticate), Depends(checked_query)],
    )
    problems.install(app)
    openapi.install(app)
    install_forgetters()
    _install_browser_safety(
        app,
        settings or (state.settings if state else Settings()),
        mcp=len(chosen) == len(ALL_SERVICES),
    )
    # Outermost, so refusals from the browser checks carry the headers too.
    app.add_middleware(SecurityHeaders)
    app.include_router(health_router)
    app.include_router(auth_router)
    home = DASHBOARD if "planner" in chosen else DOCS

    async def _home() -> RedirectResponse:
        return RedirectResponse(home, status_code=307)

    app.add_api_route("/", _home, include_in_schema=False)
    if "memory" in chosen:
        app.include_router(memory_router)
        # The scheduler's preference rules, for `remember`'s hint (memory cannot import them).
        setattr(app.state, REMEMBER_HINT, remember_hint)
        app.include_router(context_router)
        app.include_router(documents_router)
    if "planner" in chosen:
        app.include_router(tasks_router)
        app.include_router(planner_router)
        app.include_router(plan_status_router)
        app.include_router(ontology_router)
        app.include_router(run_stop_router)
        app.include_router(scheduler_router)
        app.include_router(observer_router)
        app.include_router(preview_router)
        app.include_router(jobs_router)
        app.include_router(calendar_router)
        app.include_router(oauth_router)
        app.include_router(graph_router)
        app.include_router(export_router)
        # The dashboard needs the Planner; its Memory page, the Gateway's API in this app
        # (with the Planner alone it says where memory lives instead).
        mount_dashboard(app)
    # MCP over Streamable HTTP at /mcp when one process serves both APIs (its tools use both).
    mcp = McpMount(app) if len(chosen) == len(ALL_SERVICES) else None
    return app


def _install_browser_safety(app: FastAPI, settings: Settings, *, mcp: bool) -> None:
    """CORS (closed unless `security.cors_origins`), inside the Host/Origin/body checks;
    with `mcp`, a message to /mcp over the body limit is a JSON-RPC error."""
    from starlette.middleware.cors import CORSMiddleware

    from almanac.auth.browser import BrowserSafety

    if settings.security.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.security.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            # Cross-origin callers use a key header; the session cookie stays same-site.
            allow_credentials=False,
        )
    oversized = {MCP_PATH: too_large} if mcp else {}
    app.add_middleware(BrowserSafety, settings=settings, oversized=oversized)
