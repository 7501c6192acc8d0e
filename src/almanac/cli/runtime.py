"""The CLI's full path: the running server (see `connect`) or the app in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import httpx
import typer
from rich.console import Console

from almanac.auth.principal import Principal
from almanac.config import Settings
from almanac.db.uow import unit_of_work
from almanac.errors import AlmanacError
from almanac.http_problems import decode_problem
from almanac.memory.client import HttpMemoryClient
from almanac.memory.port import memory_service
from almanac.memory.schemas import RememberBatchOut, RememberIn
from almanac.redact import key_headers, mask_url
from almanac.startup import open_state
from almanac.state import AppState

T = TypeVar("T")
# Who the CLI is when it runs the app in-process on a database it opened itself.
LOCAL_OWNER = Principal(key_id=0, name="local-cli", scope="admin")
err = Console(stderr=True)


def _target(settings: Settings, url: str | None, service: str) -> tuple[str | None, Any]:
    """`--url`, ALMANAC_URL or the server recorded in the settings' data folder."""
    from almanac.cli import connect

    return connect.target(url, service, settings.data_dir)


class PacedClient(httpx.AsyncClient):
    """Waits out the server's rate limit instead of failing the rest of a long command.

    `docs add` on a folder sends one request per file: past the key's write limit
    (120 a minute by default) every further file failed with a 429 (2,822 of 3,000). A 429
    is refused before anything is done, so sending the same request again is safe; it is
    sent again after its Retry-After when that is at most `MAX_WAIT` seconds, up to
    `MAX_WAITS` times in a row, and the wait is said on stderr.
    """

    MAX_WAIT = 120.0
    MAX_WAITS = 10

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        for _ in range(self.MAX_WAITS):
            response = await super().send(request, **kwargs)
            wait = _retry_after(response) if response.status_code == 429 else None
            if wait is None:
                return response
            await response.aclose()
            err.print(f"rate limited by the server: waiting {wait:g} s", soft_wrap=True)
            await asyncio.sleep(wait)
        return await super().send(request, **kwargs)


def _retry_after(response: httpx.Response) -> float | None:
    """The Retry-After of a 429 in seconds, when it is one the command may wait."""
    try:
        wait = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return max(wait, 0.0) if wait <= PacedClient.MAX_WAIT else None


# The Memory Gateway's routes (memory, context, documents); the rest is the Planner's.
MEMORY_PATHS = "/api/v1/memory"


class RoutedTransport(httpx.AsyncBaseTransport):
    """Sends the Gateway's routes to `memory` and every other request to the client's own
    base (the Planner's): for a client of both APIs when the services run apart."""

    def __init__(self, memory: str) -> None:
        self.memory = httpx.URL(memory)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == MEMORY_PATHS or path.startswith(MEMORY_PATHS + "/"):
            to = self.memory
            request.url = request.url.copy_with(scheme=to.scheme, host=to.host, port=to.port)
            request.headers["Host"] = to.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _apart(settings: Settings, url: str | None) -> tuple[str, str, Any] | None:
    """(Gateway URL, Planner URL, the Planner's record) when the data folder records the two
    services as two servers, and no URL was given (one URL serves both APIs)."""
    memory, _ = _target(settings, url, "memory")
    planner, record = _target(settings, url, "planner")
    if memory is None or planner is None or memory == planner:
        return None
    return memory, planner, record


@asynccontextmanager
async def _remote(
    base: str,
    record: Any,
    timeout: float = 120,
    paced: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    from almanac.cli import connect

    headers = key_headers(connect.api_key(), base)  # X-API-Key beside a login in the URL
    kind = PacedClient if paced else httpx.AsyncClient
    async with kind(base_url=base, timeout=timeout, headers=headers, transport=transport) as client:
        try:
            yield client
        except httpx.TimeoutException as exc:
            # The server may still finish the request: say so rather than guess.
            message = f"no answer from {mask_url(base)} in time ({type(exc).__name__})"
            raise AlmanacError(message, 504) from exc
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            message = connect.not_answering_message(base, record, reason)
            raise AlmanacError(message, 503) from exc


class MemoryImport(Protocol):
    """What `almanac memory import` needs of the Gateway."""

    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut: ...


class LocalImport:
    """The Gateway's service in-process: one unit of work per batch, committed here (the
    CLI is the boundary)."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def remember_batch(self, items: Sequence[RememberIn]) -> RememberBatchOut:
        async with unit_of_work(self.state.sessionmaker) as uow:
            result = await memory_service(uow, self.state).remember_many(items)
        return result.batch()  # after the commit, so `stored_in` is complete


@asynccontextmanager
async def memory_client(settings: Settings, url: str | None) -> AsyncIterator[MemoryImport]:
    """The running Gateway (so its cache stays coherent), or the service in-process."""
    base, record = _target(settings, url, "memory")
    if base is not None:
        async with _remote(base, record) as client:
            yield HttpMemoryClient(client)
        return
    state = await open_state(settings)
    try:
        yield LocalImport(state)
    finally:
        await state.close()


@asynccontextmanager
async def api_client(
    settings: Settings,
    url: str | None,
    service: str = "planner",
    *,
    in_process: bool = False,
    timeout: float = 120,
    as_owner: bool = True,
    paced: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the API: the running server (unless `in_process`), else the app
    in-process (same routes, validation and errors) over ASGI.

    In-process, requests act as the owner (`LOCAL_OWNER`) unless `as_owner` is False: then
    each request's own key is checked, scope and all, as the server would. A server's 429
    is waited out (`PacedClient`) unless `paced` is False: an assistant's tool call
    should say it at once rather than wait minutes.

    `service` "all" is a client of both APIs (the MCP tools): with the services run apart,
    each request goes to the server of its route (`RoutedTransport`)."""
    if service == "all" and not in_process:
        apart = _apart(settings, url)
        if apart is not None:
            memory, planner, record = apart
            async with _remote(planner, record, timeout, paced, RoutedTransport(memory)) as client:
                yield client
            return
        service = "planner"
    base, record = (None, None) if in_process else _target(settings, url, service)
    if base is not None:
        async with _remote(base, record, timeout, paced) as client:
            yield client
        return
    from almanac.app import create_app
    from almanac.auth.deps import authenticate
    from almanac.deps import get_state

    async with local_state(settings) as state:
        app = create_app(state=state)
        app.dependency_overrides[get_state] = lambda: state
        if as_owner:
            # In-process, the CLI opened the database itself: it acts as the owner (admin).
            app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", timeout=timeout
        ) as client:
            yield client


def in_process_request(
    method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
) -> tuple[int, Any]:
    """One API request against the app in-process (no server runs on this data folder)."""

    async def go() -> tuple[int, Any]:
        async with api_client(Settings(), None, in_process=True) as client:
            query = {k: v for k, v in (params or {}).items() if v is not None}
            response = await client.request(method, path, params=query, json=body)
            try:
                return response.status_code, response.json() if response.content else None
            except ValueError:
                return response.status_code, response.text

    return run(go)


def answer(response: httpx.Response, names: Mapping[str, str] | None = None) -> Any:
    """The JSON body of a successful response; a problem becomes an `AlmanacError` (naming
    fields by the command's options in `names`, the API's name → the option)."""
    if response.status_code < 400:
        try:
            return response.json()
        except ValueError:
            # A redirect or a page that is no JSON (a proxy's): said, not a traceback.
            status = response.status_code
            where = response.headers.get("location")
            said = decode_problem(status, response.content, response.reason_phrase).detail
            raise AlmanacError(
                f"the server answered HTTP {status}"
                + (f" (to {mask_url(where)})" if where else "")
                + f" without the API's JSON: {said}",
                502,
            ) from None
    problem = decode_problem(response.status_code, response.content, response.reason_phrase)
    message = problem.named(names or {}).message()
    if response.status_code == 401 and "key is not valid" in message:
        from almanac.cli import connect

        message += connect.invalid_key_hint()
    raise AlmanacError(message, response.status_code)


@asynccontextmanager
async def local_state(settings: Settings) -> AsyncIterator[AppState]:
    state = await open_state(settings)
    try:
        yield state
    finally:
        await state.close()


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; expected errors become a message and exit code 1 (2 for bad input)."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except AlmanacError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2 if 400 <= exc.status_code < 500 else 1) from exc
    except httpx.TimeoutException as exc:
        where = mask_url(str(exc.request.url)) if _has_request(exc) else "the server"
        err.print(
            f"[red]error:[/red] no answer from {where} in time ({type(exc).__name__})",
            soft_wrap=True,
        )
        raise typer.Exit(1) from exc
    except httpx.HTTPError as exc:
        where = mask_url(str(exc.request.url)) if _has_request(exc) else "the server"
        err.print(f"[red]error:[/red] cannot reach {where} ({type(exc).__name__})", soft_wrap=True)
        raise typer.Exit(1) from exc
    except httpx.InvalidURL as exc:
        # Not an HTTPError: an argument that cannot go in a URL (too long, a control
        # character) escaped as a traceback. Nothing was sent.
        err.print(
            f"[red]error:[/red] an argument cannot be sent in a URL ({exc}); nothing was sent",
            soft_wrap=True,
        )
        raise typer.Exit(2) from exc


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True
