"""The procrastinate App, built at run time from settings (nothing is read at import)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import exceptions
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision, RetryStrategy
from procrastinate.tasks import Task
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from almanac.config import Settings
from almanac.errors import Busy

# Query keys libpq understands; asyncpg-only keys (e.g. `prepared_statement_cache_size`)
# would make psycopg refuse the whole conninfo.
_LIBPQ_KEYS = {
    "host",
    "hostaddr",
    "port",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "passfile",
    "channel_binding",
    "gssencmode",
}


def to_conninfo(url: str) -> str:
    """A libpq conninfo for a SQLAlchemy URL (`postgresql+asyncpg://...` or plain)."""
    parsed = make_url(url)
    params: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    for key, value in parsed.query.items():
        single = value if isinstance(value, str) else value[0]
        if key == "ssl":  # asyncpg's spelling
            key, single = "sslmode", "require" if single in ("true", "1", "on") else single
        if key in _LIBPQ_KEYS:
            params[key] = single
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


class Backoff(BaseRetryStrategy):
    """Exponential backoff: `base * 2**attempts` seconds, capped, for `max_attempts` retries.

    `Busy` (a lock held by another writer past the wait allowed; nothing was changed) is
    not a failure: it is retried after its Retry-After, and the task takes back the attempt
    procrastinate counts for it (`scheduler.tasks.busy_is_no_attempt`), so `job.attempts`
    here counts real failures, until `jobs.repository.MAX_BUSY_RETRIES` busy spells; after
    them each counts, and the attempts' budget ends the job. Exceptions in `forever` are
    retried without end, every `max_seconds` once the attempts are used up. procrastinate's
    `RetryStrategy` only takes whole seconds; tests need fractions.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        base_seconds: float = 2.0,
        max_seconds: float = 900.0,
        forever: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.forever = forever
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds

    def delay(self, attempts: int) -> float:
        """Seconds to wait before retry number `attempts + 1`."""
        return float(min(self.max_seconds, self.base_seconds * 2.0**attempts))

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """Retry any exception until `max_attempts` retries have been made (`Busy` and
        `forever` always)."""
        if isinstance(exception, Busy):
            # Uncounted until the job's busy spells are spent (`MAX_BUSY_RETRIES`); then
            # each is an attempt, and the budget ends it like any failure.
            if job.attempts >= self.max_attempts:
                return None
            wait = float((exception.headers or {}).get("Retry-After", "5"))
            return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=wait))
        if job.attempts >= self.max_attempts and not isinstance(exception, self.forever):
            return None
        return RetryDecision(
            retry_at=datetime.now(UTC) + timedelta(seconds=self.delay(job.attempts))
        )


def _with_backoff(strategy: BaseRetryStrategy | None) -> BaseRetryStrategy | None:
    # A bare `retry=N` retries at once; waiting lets a flaky dependency recover.
    if isinstance(strategy, RetryStrategy) and not (
        strategy.wait or strategy.linear_wait or strategy.exponential_wait
    ):
        return Backoff(max_attempts=strategy.max_attempts or 5)
    return strategy


def add_blueprint(
    app: procrastinate.App, blueprint: procrastinate.Blueprint, namespace: str
) -> None:
    """Register copies of `blueprint`'s tasks as `namespace:name`.

    `App.add_tasks_from` renames the blueprint's own Task objects, so a module-level
    blueprint could join only one App per process; copies let every App (tests, CLI,
    worker) register it.
    """
    for name, task in blueprint.tasks.items():
        if name != task.name:  # an alias; registered with its task
            continue
        copy: Task[Any, Any, Any] = Task(
            task.func,
            blueprint=app,
            name=f"{namespace}:{name}",
            aliases=[f"{namespace}:{alias}" for alias in task.aliases],
            retry=_with_backoff(task.retry_strategy) or False,
            pass_context=task.pass_context,
            queue=task.queue,
            priority=task.priority,
            lock=task.lock,
            queueing_lock=task.queueing_lock,
            task_middleware=task.task_middleware,
        )
        names = [copy.name, *copy.aliases]
        if clash := set(names) & set(app.tasks):
            raise exceptions.TaskAlreadyRegistered(f"tasks already registered: {sorted(clash)}")
        for registered in names:
            app.tasks[registered] = copy


def build_app(
    settings: Settings,
    database_url: str,
    blueprints: Iterable[tuple[procrastinate.Blueprint, str]],
    *,
    pool_size: int | None = None,
) -> procrastinate.App:
    """An App on `database_url` (the engine's URL; the embedded server's when embedded).

    The App must still be opened (`async with app.open_async():`) before use.
    """
    size = pool_size or settings.jobs.concurrency + 3  # jobs, listener, clock, heartbeat
    connector = procrastinate.PsycopgConnector(
        conninfo=to_conninfo(database_url), min_size=1, max_size=size
    )
    app = procrastinate.App(connector=connector)
    for blueprint, namespace in blueprints:
        add_blueprint(app, blueprint, namespace)
    return app
