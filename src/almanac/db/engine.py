"""Engine and session factory."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from almanac.db.outage import ReportingPool, report_outages


def normalise_url(url: str) -> str:
    """Accept plain `postgres://` and `postgresql://` URLs and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pool_timeout: float = 10.0,
    echo: bool = False,
    connect_timeout: float = 5.0,
    command_timeout: float | None = None,
) -> AsyncEngine:
    """An asyncpg engine with pre-ping so a restarted server does not surface as errors;
    a server that cannot be reached raises `DatabaseUnavailable` (503), see db/outage.py.

    `command_timeout` bounds each statement on the client side: a server that accepts the
    connection but never answers (paused, hung host) is then an outage after that long too.
    None (migrations, index builds) waits as long as the server takes."""
    engine = create_async_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # A checkout waiting past this answers 503 (outage.ReportingPool).
        poolclass=ReportingPool,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        echo=echo,
        # A failed statement's error must not carry what was being stored into the logs.
        hide_parameters=True,
        # asyncpg waits 60 s by default for a server that does not answer.
        connect_args={"timeout": connect_timeout, "command_timeout": command_timeout},
    )
    report_outages(engine, command_timeout=command_timeout)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
