"""Secrets stay out of answers and logs: masked URLs, no recall query or feed token in the
access log, failed statements without their parameters, private archive files."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest
from pydantic import SecretStr

from almanac.config import CalDAVCalendarSettings
from almanac.db.engine import create_engine
from almanac.redact import (
    AccessLogFilter,
    RedactingFilter,
    install_log_filters,
    mask_url,
    strip_private_query,
)
from almanac.state import AppState

PASSWORD = "hunter2-s3cret"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_health_never_shows_caldav_credentials(
    client: httpx.AsyncClient, state: AppState
) -> None:
    state.settings.calendar = CalDAVCalendarSettings(
        caldav_url=f"http://me:{PASSWORD}@127.0.0.1:{closed_port()}/dav/me/calendar/",
        caldav_username="me",
        caldav_password=SecretStr(PASSWORD),
    )
    state.probes.clear()
    r = await client.get("/health")
    calendar = r.json()["dependencies"]["calendar"]
    assert calendar["status"] == "degraded"
    assert PASSWORD not in r.text
    assert "me:***@127.0.0.1" in calendar["detail"]
    # The same provider's errors in an API answer are masked too.
    r = await client.post("/api/v1/scheduler/schedule", json={"plan_id": 999_999, "dry_run": True})
    assert PASSWORD not in r.text


def test_masking_urls_and_secrets() -> None:
    assert mask_url("https://u:p%40ss@host/x") == "https://u:***@host/x"
    assert (
        mask_url("postgresql://almanac:pw@/db?host=/tmp")
        == "postgresql://almanac:***@/db?host=/tmp"
    )
    assert mask_url("https://host/no-credentials") == "https://host/no-credentials"
    record = logging.LogRecord(
        "x", logging.ERROR, "f", 1, "key %s at %s", ("sk-abcdef", "https://a:b@h"), None
    )
    RedactingFilter(["sk-abcdef"]).filter(record)
    assert record.getMessage() == "key *** at https://a:***@h"


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/api/v1/memory/recall?query=my+divorce+lawyer&k=5", "/api/v1/memory/recall?***"),
        ("/api/v1/calendar/feed.ics?token=abc123", "/api/v1/calendar/feed.ics?***"),
        ("/api/v1/memory/facts?subject_id=acme", "/api/v1/memory/facts?***"),
        ("/oauth/callback?code=xyz&state=s", "/oauth/callback?***"),
        ("/api/v1/planner/plans?limit=5", "/api/v1/planner/plans?limit=5"),
        ("/api/v1/memory/recall", "/api/v1/memory/recall"),
    ],
)
def test_access_log_strips_private_query_strings(target: str, logged: str) -> None:
    assert strip_private_query(target) == logged
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "f",
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", target, "1.1", 200),
        None,
    )
    AccessLogFilter().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


def test_the_app_installs_the_access_log_filter() -> None:
    install_log_filters()
    install_log_filters()  # idempotent
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, AccessLogFilter) for f in filters) == 1


def test_secrets_installed_later_are_masked_too(caplog: pytest.LogCaptureFixture) -> None:
    """The filters went in once: a second app in the process (its own feed token) found
    them there and added nothing, so its token was logged in the clear."""
    install_log_filters(["first-secret-1234"])
    install_log_filters(["second-secret-5678"])
    logging.getLogger("almanac.test").warning(
        "a %s and b %s", "first-secret-1234", "second-secret-5678"
    )
    assert "first-secret-1234" not in caplog.text and "second-secret-5678" not in caplog.text
    assert "a " in caplog.text


async def test_failed_statements_do_not_log_their_parameters(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    engine = create_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(Exception) as info:
                await conn.execute(
                    text("INSERT INTO events (content, occurred_at) VALUES (:c, 'x')"),
                    {"c": "private memory content"},
                )
        assert "private memory content" not in str(info.value)
    finally:
        await engine.dispose()
