"""What every router shares: path and query parameters, and the five routes of a resource."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin

from fastapi import APIRouter, Path, Request, Response, status
from fastapi import Query as QueryParam
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel

from almanac.errors import ValidationFailed
from almanac.types import BIGINT_MAX

T = TypeVar("T")

# A row id in a path: bigint ids, so a larger number is a 422, not a driver overflow.
PathId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
# `Params[XQuery]`: the fields of a query model (see `types.PageQuery`) as query parameters
# (checked, as every route's, by `checked_query`).
Params = Annotated[T, QueryParam()]


@dataclass(frozen=True)
class _Accepted:
    """The query parameters a route declares: all of them, and those taking a list."""

    names: frozenset[str]
    lists: frozenset[str]
    short: Mapping[str, str]  # a query model's other names for its fields
    form: frozenset[str] | None = None  # a form's fields (files too); None: no form body


_ACCEPTED = "_almanac_query"  # the route attribute holding its `_Accepted` (routes are unhashable)
# The operation's mark, in OpenAPI too, that its query is not checked (see `open_query`).
OPEN_QUERY = "x-open-query"


def open_query() -> dict[str, Any]:
    """`openapi_extra=open_query()` on a route whose query someone other than Almanac's
    clients writes: Google adds its own parameters to the OAuth callback, a calendar app
    polls the feed address as pasted. A refusal there would break sign-in or silently
    empty a subscription, so `checked_query` lets their query be."""
    return {OPEN_QUERY: True}


def query_checked(route: APIRoute) -> bool:
    """Whether `checked_query` refuses what `route` does not take: every operation of the
    API but those marked `open_query`. The dashboard's pages (not in the API's schema) are
    shells whose script reads the address itself."""
    return bool(route.include_in_schema) and not (route.openapi_extra or {}).get(OPEN_QUERY)


def _bare(annotation: Any) -> Any:
    """`annotation` without `Annotated[...]` and without `| None`."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _bare(args[0])
    return annotation


def _takes_list(annotation: Any) -> bool:
    bare = _bare(annotation)
    if get_origin(bare) in (Union, UnionType):
        return any(_takes_list(a) for a in get_args(bare))
    origin = get_origin(bare) or bare
    return isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple))


def _accepted(route: APIRoute) -> _Accepted:
    """The query parameters `route` declares, its own and its dependencies', with each
    query model (`Params[XQuery]`) counted by its fields: what OpenAPI documents."""
    found: _Accepted | None = getattr(route, _ACCEPTED, None)
    if found is not None:
        return found
    names: set[str] = set()
    lists: set[str] = set()
    short: dict[str, str] = {}
    form: set[str] | None = None
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        for param in dependant.body_params:
            if isinstance(param.field_info, Form):  # File is a Form
                form = (form or set()) | {param.alias}
        for param in dependant.query_params:
            model = _bare(param.field_info.annotation)
            if isinstance(model, type) and issubclass(model, BaseModel):
                fields = [(f.alias or n, f.annotation) for n, f in model.model_fields.items()]
                short.update(getattr(model, "short_names", {}))
            else:
                fields = [(param.alias, param.field_info.annotation)]
            for name, annotation in fields:
                names.add(name)
                if _takes_list(annotation):
                    lists.add(name)
    found = _Accepted(
        frozenset(names | set(short)),
        frozenset(lists),
        short,
        None if form is None else frozenset(form),
    )
    setattr(route, _ACCEPTED, found)
    return found


async def checked_query(request: Request) -> None:
    """A 422 naming a query parameter the route does not declare, or one given twice with
    different values where the route takes one value: a misspelt filter (`?clinet_id=7`)
    was ignored and `?status=a&status=b` listed by the last value, each answering 200 as
    if filtered. The names come from the route itself (its parameters, its query model's
    fields), so no list is kept by hand; a parameter declared as a list may repeat.

    Every route's (the app's dependency, after authentication): a write ignored them
    too, so `DELETE /memory/events/1?hard=true` deleted as if asked nothing."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not query_checked(route):
        return
    accepted = _accepted(route)
    query = request.query_params
    for name in query:
        if not name:  # `?=1`: no name to give the problem's field, which it then lacked
            raise ValidationFailed("a query parameter has no name (`?=...`)", field="query")
        if name not in accepted.names:
            takes = ", ".join(sorted(accepted.names)) or "no query parameters"
            raise ValidationFailed(
                f"unknown query parameter {name!r}: {request.url.path} takes {takes}",
                field=name,
            )
        if name not in accepted.lists and len(set(query.getlist(name))) > 1:
            raise ValidationFailed(f"{name} is given more than once, differently", field=name)
        if name in accepted.short and accepted.short[name] in query:
            raise ValidationFailed(
                f"{name} and {accepted.short[name]} name the same filter: give one", field=name
            )
    if accepted.form is not None:
        await _checked_form(request, accepted.form)


async def _checked_form(request: Request, fields: frozenset[str]) -> None:
    """The same for a form body (document uploads): `-F client=7` stored a client's
    document as the user's own, recalled for every client; `-F client_id=7 -F client_id=8`
    stored it as 8's; two `file` parts kept the last and dropped the first, all with a 201.
    The form was parsed before the dependencies ran; `request.form()` returns it again."""
    form = await request.form()
    for name in form:
        if name not in fields:
            takes = ", ".join(sorted(fields))
            raise ValidationFailed(
                f"unknown form field {name!r}: {request.url.path} takes {takes}", field=name
            )
        values = form.getlist(name)
        if len(values) > 1 and not all(isinstance(v, str) for v in values):
            raise ValidationFailed(f"{name}: one file per request, not {len(values)}", field=name)
        # A text value repeated alike says one thing.
        if len(set(values)) > 1:
            raise ValidationFailed(f"{name} is given more than once, differently", field=name)


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
