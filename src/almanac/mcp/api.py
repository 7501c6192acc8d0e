"""How a tool reaches the REST API: one httpx client plus the caller's key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import AfterValidator, Field

from almanac.http_problems import Problem, decode_problem
from almanac.printable import visible
from almanac.redact import mask_url, redact
from almanac.types import BIGINT_MAX, INT_MAX, MAX_YEAR, check_text

# Text arguments bounded as the REST routes bound them. A tool puts some of them in the
# URL, where a NUL or a 100,000-character value failed inside httpx ("Error executing
# tool"), naming no argument; refused here, the error names it.
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_text)]
ShortText = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(check_text)]
QueryText = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_text)]
# Ids as the API's columns hold them: a client's in 32 bits, every other row's in 64.
ClientRef = Annotated[int, Field(ge=1, le=INT_MAX)]
RowId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Content = Annotated[str, Field(min_length=1, max_length=20_000)]


def segment(value: str) -> str:
    """`value` as one URL path segment: '/', '?', '#', '%' and dot segments stay literal."""
    return quote(value, safe="").replace(".", "%2E")


class ApiProblem(ToolError):
    """A REST problem (4xx/5xx) as an MCP tool error, worded as the CLI words it: each field
    and its reason, once (`Problem.headline`)."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]]):
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        super().__init__(Problem(status, title, detail, errors).headline())


def problem_from(response: httpx.Response, named: Mapping[str, str] | None = None) -> ApiProblem:
    """The answer's problem, each field in `named` (the API's name → the tool's argument)
    in the tool's words: `reflect(day=…)` was told "date: must not be …"."""
    problem = decode_problem(response.status_code, response.content, response.reason_phrase)
    problem = problem.named(named or {})
    return ApiProblem(problem.status, problem.title, problem.detail, problem.errors)


class Api:
    """REST calls on behalf of one caller (their key in `headers`, its scope if known)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        headers: Mapping[str, str] | Sequence[tuple[bytes, bytes]] | None = None,
        scope: str | None = None,
        timezone: str | None = None,
    ) -> None:
        self.client = client
        # Raw pairs from /mcp: the caller's key headers exactly as sent (`mcp.http`).
        self.headers = headers or {}
        self.scope = scope
        self.timezone = timezone
        self._zone: ZoneInfo | None = None
        self._zone_asked = False

    async def _me(self) -> None:
        """Ask the API who the caller is: their key scope and the user's time zone."""
        try:
            response = await self.client.get("/api/v1/auth/me", headers=self.headers)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            me = response.json()
            self.scope = str(me.get("scope") or "") or None
            self.timezone = str(me.get("timezone") or "") or None

    async def key_scope(self) -> str | None:
        """The caller's key scope, asked of the API once (None when it refuses the key)."""
        if self.scope is None:
            await self._me()
        return self.scope

    async def zone(self) -> ZoneInfo | None:
        """The user's zone (the dashboard's), asked of the API at most once per `Api`;
        None when it cannot be read, and times are then shown in UTC, saying so."""
        if not self._zone_asked:
            self._zone_asked = True
            if self.timezone is None:
                await self._me()
            try:
                self._zone = ZoneInfo(self.timezone) if self.timezone else None
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = None
        return self._zone

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        named: Mapping[str, str] | None = None,
    ) -> Any:
        """The API's answer; a problem as a tool error, in the words of `named`."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self.client.request(
                method, path, params=query, json=json, headers=self.headers
            )
        except httpx.ReadTimeout as exc:
            # Sent, and not answered: unlike a refused connection, a write may have been made.
            sent = (
                ""
                if method == "GET"
                else (
                    "; what was sent may have been stored: check before sending it again"
                    " (an idempotency_key makes a retry safe where a tool takes one)"
                )
            )
            raise ToolError(f"Almanac did not answer in time{sent}") from exc
        except httpx.HTTPError as exc:
            # Where it was looked for: the URL a desktop client's settings name may be wrong.
            at = mask_url(str(self.client.base_url).rstrip("/"))
            raise ToolError(
                f"Almanac is not reachable at {at} ({type(exc).__name__}: {redact(str(exc))})"
            ) from exc
        if response.status_code >= 400:
            raise problem_from(response, named)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, named: Mapping[str, str] | None = None, **params: Any) -> Any:
        return await self.call("GET", path, params=params, named=named)

    async def post(
        self, path: str, json: Any = None, named: Mapping[str, str] | None = None, **params: Any
    ) -> Any:
        return await self.call("POST", path, params=params, json=json, named=named)

    async def calendar(self, days: int, start: date | None = None) -> Any:
        """Blocks and busy events for `days` days from `start`, by default from the user's
        today: only the server knows the user's zone, so its default window says which day."""
        if start is None:
            first = await self.get("/api/v1/scheduler/calendar")
            start = date.fromisoformat(first["start"][:10])
        if date.max - start < timedelta(days=days - 1) or (
            (end := start + timedelta(days=days - 1)).year > MAX_YEAR
        ):
            raise ToolError(f"days: {days} days from {start.isoformat()} end after {MAX_YEAR}")
        return await self.get(
            "/api/v1/scheduler/calendar", start_date=start.isoformat(), end_date=end.isoformat()
        )


def result(text: str, data: Any) -> CallToolResult:
    """Short text for the model plus the API's answer as structured content."""
    structured = data if isinstance(data, dict) else {"items": data}
    # Visible escapes for control characters in what was stored (a title, a context
    # block): the structured content keeps them as JSON escapes already.
    return CallToolResult(
        content=[TextContent(type="text", text=visible(text))], structuredContent=structured
    )


def clip(text: str, limit: int = 160) -> str:
    """Stored text on one line, cut at `limit`."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
