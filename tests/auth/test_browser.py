"""Browser safety: Host allow-list, cross-site refusals, JSON-only bodies, body limits, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.auth.browser import host_name
from almanac.config import Settings
from almanac.state import AppState
from tests.conftest import TEST_ADMIN_KEY, app_in_transaction, http_client

PROBLEM = "application/problem+json"
_DAY = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y%m%d")
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
    f"UID:cross-site-1\r\nDTSTART:{_DAY}T100000Z\r\nDTEND:{_DAY}T110000Z\r\n"
    "SUMMARY:Planted by a web page\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
EVIL = "http://attacker.example"


async def _entries(db: AsyncSession) -> int:
    return int((await db.execute(text("SELECT count(*) FROM calendar_entries"))).scalar_one())


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("attacker.example", False),
        ("attacker.example:8090", False),
        ("localhost.attacker.example", False),
        ("", False),
        ("localhost:8090", True),
        ("127.0.0.1", True),
        ("[::1]:8090", True),
        ("almanac.test", True),  # the test settings add it
    ],
)
async def test_host_allow_list(admin: httpx.AsyncClient, host: str, ok: bool) -> None:
    r = await admin.get("/api/v1/memory/facts", headers={"Host": host})
    if ok:
        assert r.status_code == 200
    else:
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM and "allowed_hosts" in r.json()["detail"]


def test_host_names() -> None:
    assert host_name("LocalHost:80") == "localhost"
    assert host_name("[::1]:8090") == "::1"
    assert host_name("example.org") == "example.org"


async def test_text_plain_ics_post_from_another_site_writes_nothing(
    admin: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """The issue's finding: a page POSTing text/plain to the .ics import created an event."""
    before = await _entries(db_session)
    for headers in (
        {"Origin": EVIL, "Content-Type": "text/plain"},
        {"Origin": EVIL, "Content-Type": "text/calendar"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/calendar"},
        {"Sec-Fetch-Site": "same-site", "Content-Type": "text/calendar"},
        {"Origin": "null", "Content-Type": "text/calendar"},
        {"Origin": "http://localhost:3000", "Content-Type": "text/calendar"},
    ):
        r = await admin.post("/api/v1/calendar/import", content=ICS, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.headers["content-type"] == PROBLEM
    assert await _entries(db_session) == before
    # Same origin (or a tool, with no Origin at all) still imports, with text/calendar only.
    r = await admin.post(
        "/api/v1/calendar/import", content=ICS, headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    r = await admin.post(
        "/api/v1/calendar/import",
        content=ICS,
        headers={
            "Content-Type": "text/calendar",
            "Origin": "http://almanac.test",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert await _entries(db_session) == before + 1


async def test_the_ics_import_needs_a_key_too(anon: httpx.AsyncClient) -> None:
    r = await anon.post(
        "/api/v1/calendar/import", content=ICS, headers={"Content-Type": "text/calendar"}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/planner/plans/1/approve",
        "/api/v1/observer/reflect",
        "/api/v1/planner/workflows/import",
    ],
)
async def test_empty_body_posts_from_another_site_are_refused(
    admin: httpx.AsyncClient, db_session: AsyncSession, path: str
) -> None:
    """The issue's empty-body POSTs, as a page would send them (no preflight needed)."""
    workflows = "SELECT count(*) FROM workflows"
    before = (await db_session.execute(text(workflows))).scalar_one()
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
        r = await admin.post(path, headers=headers)
        assert r.status_code == 403, r.text
    # A form post (the other no-preflight shape) is refused as well.
    r = await admin.post(path, data={"a": "b"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 415
    assert (await db_session.execute(text(workflows))).scalar_one() == before
    # GETs from anywhere are still answered (they change nothing; the key guards reads).
    assert (await admin.get("/api/v1/memory/facts", headers={"Origin": EVIL})).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_json_endpoints_take_only_json(admin: httpx.AsyncClient, content_type: str) -> None:
    r = await admin.post(
        "/api/v1/memory/remember",
        content=b'{"content": "sneaky"}',
        headers={"Content-Type": content_type},
    )
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]
    r = await admin.post("/api/v1/memory/remember", content=b'{"content": "fine"}')
    assert r.status_code == 415  # a body without any Content-Type
    r = await admin.post(
        "/api/v1/memory/remember",
        content=b'{"content": "fine"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201


async def test_declared_oversize_body_is_413_before_reading(admin: httpx.AsyncClient) -> None:
    body = b'{"content": "' + b"x" * (1024 * 1024) + b'"}'
    r = await admin.post(
        "/api/v1/memory/remember", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


async def test_streamed_oversize_body_is_cut_off_at_the_limit(admin: httpx.AsyncClient) -> None:
    """No Content-Length (chunked): the limit is enforced as the body arrives."""
    chunk = b"x" * 65536
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"content": "'
        for _ in range(1600):  # 100 MiB if it were all read
            sent += len(chunk)
            yield chunk

    r = await admin.post(
        "/api/v1/memory/remember",
        content=endless(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["detail"] == "the body is larger than 1048576 bytes"
    assert sent <= 1024 * 1024 + 2 * len(chunk)


async def test_a_json_body_repeating_a_key_is_400_naming_it_and_writes_nothing(
    admin: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    """{"content": "a", "content": "b"} was stored as "b" (Python keeps the last value,
    other parsers, a proxy's say, the first)."""
    json_type = {"Content-Type": "application/json"}
    count = "SELECT count(*) FROM events"
    before = (await db_session.execute(text(count))).scalar_one()
    for body in (
        b'{"content": "a", "content": "b"}',
        b'{"content": "a", "metadata": {"x": 1, "y": {"k": 1, "k": 2}}}',
    ):
        r = await admin.post("/api/v1/memory/remember", content=body, headers=json_type)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] in ("content", "k")
    assert (await db_session.execute(text(count))).scalar_one() == before
    # The same key in different objects, and chunked bodies, are fine.
    ok = b'{"content": "a", "metadata": {"content": {"content": 1}}}'
    r = await admin.post("/api/v1/memory/remember", content=ok, headers=json_type)
    assert r.status_code == 201, r.text

    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"content": '
        yield b'"streamed"}'

    r = await admin.post("/api/v1/memory/remember", content=chunked(), headers=json_type)
    assert r.status_code == 201, r.text


async def test_the_ics_import_has_its_own_larger_limit(admin: httpx.AsyncClient) -> None:
    big = ICS.encode() + b" " * (1024 * 1024 + 10)  # over 1 MiB, under 2 MiB
    r = await admin.post(
        "/api/v1/calendar/import", content=big, headers={"Content-Type": "text/calendar"}
    )
    assert r.status_code != 413
    r = await admin.post(
        "/api/v1/calendar/import",
        content=b"x" * (2 * 1024 * 1024 + 1),
        headers={"Content-Type": "text/calendar"},
    )
    assert r.status_code == 413


async def test_cors_is_closed_by_default(admin: httpx.AsyncClient) -> None:
    r = await admin.options(
        "/api/v1/memory/recall",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = await admin.get("/api/v1/memory/facts", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in r.headers


async def test_cors_origins_setting_opens_it_for_those_origins(
    state: AppState, db_session: AsyncSession
) -> None:
    state.settings = Settings(
        data_dir=state.settings.data_dir,
        security={"cors_origins": ["https://tools.example"]},  # type: ignore[arg-type]
        _env_file=None,  # type: ignore[call-arg]
    )
    app = app_in_transaction(state, db_session)
    async with http_client(app, key=None) as c:
        pre = await c.options(
            "/api/v1/memory/remember",
            headers={
                "Origin": "https://tools.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://tools.example"
        # The allowed origin may write with a key (not with the cookie: no credentials).
        r = await c.post(
            "/api/v1/memory/remember",
            json={"content": "from an allowed origin"},
            headers={
                "Origin": "https://tools.example",
                "Sec-Fetch-Site": "cross-site",
                "Authorization": f"Bearer {TEST_ADMIN_KEY}",
            },
        )
        assert r.status_code == 201
        r = await c.post(
            "/api/v1/memory/remember",
            json={"content": "x"},
            headers={"Origin": EVIL, "Authorization": f"Bearer {TEST_ADMIN_KEY}"},
        )
        assert r.status_code == 403


async def test_an_oversize_document_upload_is_413_naming_the_file(
    admin: httpx.AsyncClient,
) -> None:
    """Past the documents' body limit (the file's 10 MiB and room for the form) the 413
    said only "the body is larger than 10551296 bytes", naming no field; streamed or
    declared, it now names `file` and the file's own limit."""
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"'
        "\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    size = 10 * 1024 * 1024 + 128 * 1024
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    async def streamed() -> AsyncIterator[bytes]:
        yield head
        for _ in range(size // 65536):
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    declared = head + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    for content in (declared, streamed()):
        r = await admin.post("/api/v1/memory/documents", content=content, headers=multipart)
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
        detail = f"the file is larger than {10 * 1024 * 1024} bytes"
        assert r.json()["detail"] == detail
        assert r.json()["errors"] == [{"field": "file", "message": detail}]


async def test_a_route_may_answer_an_oversized_body_itself_from_its_ends() -> None:
    """/mcp answers a body over the limit as a JSON-RPC error (the SDK's client ends its
    session on a 413); it is given the body's first and last bytes, read to the end
    and kept no more, up to 8 times the limit."""
    from starlette.responses import PlainTextResponse

    from almanac.auth.browser import BrowserSafety

    seen: list[tuple[bytes, bytes]] = []

    def own(first: bytes, last: bytes, limit: int) -> PlainTextResponse | None:
        seen.append((first, last))
        return PlainTextResponse(f"own {limit}") if last.endswith(b"END") else None

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await PlainTextResponse("the app")(scope, receive, send)

    settings = Settings(security={"max_body_bytes": 1024, "allowed_hosts": ["t"]})
    guarded = BrowserSafety(app, settings, oversized={"/own": own})
    headers = {"content-type": "application/json", "host": "t"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://t"
    ) as c:
        body = b"S" + b"x" * 5000 + b"END"

        async def streamed() -> AsyncIterator[bytes]:
            for at in range(0, len(body), 700):
                yield body[at : at + 700]

        for content in (body, streamed()):  # declared length, then streamed without one
            r = await c.post("/own", content=content, headers=headers)
            assert (r.status_code, r.text) == (200, "own 1024")
            assert seen[-1][0].startswith(b"Sx") and seen[-1][1].endswith(b"xEND")
        # Not its answer: the 413; another route: the 413, its hook never asked.
        r = await c.post("/own", content=b"x" * 2000, headers=headers)
        assert r.status_code == 413 and len(seen) == 3
        r = await c.post("/other", content=body, headers=headers)
        assert r.status_code == 413 and len(seen) == 3
        # Past 8 times the limit it is not read to the end: the 413.
        r = await c.post("/own", content=b"x" * 8200 + b"END", headers=headers)
        assert r.status_code == 413 and len(seen) == 3
        r = await c.post("/own", content=b"{}", headers=headers)
        assert (r.status_code, r.text) == (200, "the app")
