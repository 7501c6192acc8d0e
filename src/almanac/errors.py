"""Expected errors: one hierarchy, rendered as RFC 9457 problem details by one handler."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class AlmanacError(Exception):
    """An error the user can act on; carries the HTTP status it maps to.

    A subclass names its status and title in its header:
    `class Gone(AlmanacError, status_code=410, title="Gone")`.
    """

    status_code: int = 400
    title: str = "Bad request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, title: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if title is not None:
            cls.title = title

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
            if type(self).title == AlmanacError.title:
                # A plain AlmanacError given a status is titled as that status's own class
                # would title it ("Bad request" headed 422s beside "Validation failed").
                self.title = _title_of(status_code)
        self.errors = errors or []
        self.headers = headers


class ValidationFailed(AlmanacError, status_code=422, title="Validation failed"):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        errors = [{"field": field, "message": message}] if field else []
        super().__init__(message, errors=errors)


class Unauthorized(AlmanacError, status_code=401, title="Unauthorized"): ...


class Forbidden(AlmanacError, status_code=403, title="Forbidden"): ...


class NotFound(AlmanacError, status_code=404, title="Not found"): ...


class Conflict(AlmanacError, status_code=409, title="Conflict"):
    """The request clashes with the current state; `field` names what the caller sent that
    clashes (the id whose state it is, the stale version), as a 422 names its field."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if field and not errors:
            errors = [{"field": field, "message": message}]
        super().__init__(message, errors=errors, headers=headers)


class PayloadTooLarge(AlmanacError, status_code=413, title="Payload too large"): ...


class RateLimited(AlmanacError, status_code=429, title="Too many requests"): ...


class DependencyUnavailable(AlmanacError, status_code=503, title="Dependency unavailable"): ...


class DatabaseUnavailable(DependencyUnavailable):
    """Postgres cannot be reached (stopped, restarting, connection cut): retry shortly."""


class Busy(AlmanacError, status_code=503, title="Busy"):
    """A lock the request needs stayed held by another writer past the configured wait."""


class PoolBusy(Busy, DatabaseUnavailable):
    """Every pooled connection stayed in use past the pool timeout: to a client the same
    `Busy` as a lock (nothing was changed, retry after Retry-After); to the code that
    answers without the database (public routes) still no database to be had. /health
    calls the database degraded meanwhile, not down (health._pool_full)."""


# The title each status has here: a plain AlmanacError given that status takes it.
_TITLES = {
    cls.status_code: cls.title
    for cls in (
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        DependencyUnavailable,
    )
}


def _title_of(status_code: int) -> str:
    if status_code in _TITLES:
        return _TITLES[status_code]
    try:
        return HTTPStatus(status_code).phrase.capitalize()
    except ValueError:
        return AlmanacError.title
