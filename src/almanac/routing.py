"""What every router shares: path and query parameters, and the five routes of a resource."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi import Query as QueryParam

from almanac.errors import ValidationFailed
from almanac.types import BIGINT_MAX

T = TypeVar("T")

# A row id in a path: bigint ids, so a larger number is a 422, not a driver overflow.
PathId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
# `Params[XQuery]`: the fields of a query model (see `types.PageQuery`) as query parameters;
# its route also takes `dependencies=ONE_VALUE_EACH`.
Params = Annotated[T, QueryParam()]


async def one_value_each(request: Request) -> None:
    """A 422 naming a query parameter given twice with different values: a list endpoint's
    filters take one value each, and `?status=a&status=b` listed by the last one silently."""
    for name in request.query_params:
        if len(set(request.query_params.getlist(name))) > 1:
            raise ValidationFailed(f"{name} is given more than once, differently", field=name)


ONE_VALUE_EACH = [Depends(one_value_each)]


def known_query(what: str, *names: str) -> Any:
    """A dependency answering 422 naming a query parameter `what` does not take: a misspelt
    client filter (`?client_id=7` where the filter is `for_client`) was ignored, and the
    answer held every client's data as if filtered."""
    known = frozenset(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationFailed(
                f"unknown query parameter {unknown[0]!r}: {what} takes {', '.join(sorted(known))}",
                field=unknown[0],
            )

    return Depends(check)


def replayed_as_200(response: Response, outcome: tuple[T, bool]) -> T:
    """The answer of an idempotent create: its 201 becomes 200 when a retry found the row
    the first call created (`outcome` is the row and whether it was created)."""
    value, created = outcome
    if not created:
        response.status_code = status.HTTP_200_OK
    return value


@dataclass(frozen=True)
class Resource:
    """A resource whose create, list, get, update and delete forward to one service.

    Route (operation) names are `create_{name}`, `list_{name}s`, `get_{name}`,
    `update_{name}`, `delete_{name}`; the service's methods the same with `method`.
    """

    path: str  # e.g. "/workflows"; the item is at "{path}/{{{name}_id}}"
    name: str
    service: Any  # the dependency, e.g. Annotated[OntologyService, Depends(get_ontology)]
    create_in: type
    update_in: type
    out: type
    query: type
    listing: type
    deleted: type  # the answer to a delete: `deleted(id=..., kind=kind)`
    kind: str
    method: str = ""  # the service's stem when it differs from `name`
    id_name: str = ""  # the path parameter, when not `{name}_id`
    docs: Mapping[str, str] = field(default_factory=dict)  # per verb: the operation's text


def add_resource_routes(router: APIRouter, r: Resource) -> None:
    """Register the five routes of `r` on `router`."""
    stem, key = r.method or r.name, r.id_name or f"{r.name}_id"
    item = f"{r.path}/{{{key}}}"

    def route(
        verb: str,
        http: str,
        path: str,
        params: list[tuple[str, Any]],
        returns: Any,
        call: Callable[..., Awaitable[Any]],
        **extra: Any,
    ) -> None:
        async def endpoint(**values: Any) -> Any:
            return await call(**values)

        kind = inspect.Parameter.KEYWORD_ONLY
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, kind, annotation=a) for n, a in params],
            return_annotation=returns,
        )
        name = f"{verb}_{r.name}s" if verb == "list" else f"{verb}_{r.name}"
        endpoint.__name__ = endpoint.__qualname__ = name
        endpoint.__doc__ = r.docs.get(verb)
        # Writes check, then a concurrent change may still beat them (409); a create names
        # other rows by id in its body (404 when one is gone).
        if http != "GET":
            codes = (404, 409) if http == "POST" else (409,)
            # Described in full by almanac.openapi (routing sits beside problems, not above).
            extra.setdefault("responses", {c: {"description": "see the problem"} for c in codes})
        router.add_api_route(path, endpoint, methods=[http], name=name, **extra)

    def of(svc: Any, verb: str) -> Callable[..., Awaitable[Any]]:
        """The service's method for `verb`."""
        method: Callable[..., Awaitable[Any]] = getattr(
            svc, f"list_{stem}s" if verb == "list" else f"{verb}_{stem}"
        )
        return method

    async def create(body: Any, svc: Any) -> Any:
        return await of(svc, "create")(body)

    async def listing(query: Any, svc: Any) -> Any:
        return await of(svc, "list")(query)

    async def get(svc: Any, **ids: int) -> Any:
        return await of(svc, "get")(ids[key])

    async def update(body: Any, svc: Any, **ids: int) -> Any:
        return await of(svc, "update")(ids[key], body)

    async def delete(svc: Any, **ids: int) -> Any:
        await of(svc, "delete")(ids[key])
        return r.deleted(id=ids[key], kind=r.kind)

    route(
        "create",
        "POST",
        r.path,
        [("body", r.create_in), ("svc", r.service)],
        r.out,
        create,
        status_code=status.HTTP_201_CREATED,
    )
    route(
        "list",
        "GET",
        r.path,
        [("svc", r.service), ("query", cast(Any, Params)[r.query])],
        r.listing,
        listing,
        dependencies=ONE_VALUE_EACH,
    )
    route("get", "GET", item, [(key, PathId), ("svc", r.service)], r.out, get)
    route(
        "update",
        "PUT",
        item,
        [(key, PathId), ("body", r.update_in), ("svc", r.service)],
        r.out,
        update,
    )
    route("delete", "DELETE", item, [(key, PathId), ("svc", r.service)], r.deleted, delete)
