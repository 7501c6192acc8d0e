"""The shared request types (`almanac.types`): no request number is NaN or infinite.

A bounded number refused NaN by its bound: `"billable_target_pct": NaN` was "Input should
be less than or equal to 100" (and a plan's estimate "≤ 200"), which names no reason a
caller can act on. Every request body now says it is not a finite number."""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel, ValidationError

import almanac
from almanac.mcp.tools.planning import NewTask, TaskEdit
from almanac.ontology.sop import SOPTask
from almanac.types import Strict


def _request_models() -> Iterator[type[BaseModel]]:
    for module in pkgutil.walk_packages(almanac.__path__, "almanac."):
        if not any(part in module.name for part in (".migrations", ".cli", "__main__")):
            importlib.import_module(module.name)
    pending: list[type[BaseModel]] = [Strict, SOPTask, TaskEdit, NewTask]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        yield model


def _float_fields() -> list[tuple[type[BaseModel], str]]:
    return sorted(
        {
            (model, name)
            for model in _request_models()
            for name, field in model.model_fields.items()
            if "float" in str(field.annotation)
        },
        key=lambda pair: (pair[0].__module__, pair[0].__qualname__, pair[1]),
    )


FLOAT_FIELDS = _float_fields()


def test_request_models_with_numbers_were_found() -> None:
    names = {(m.__name__, f) for m, f in FLOAT_FIELDS}
    assert {("SprintIn", "billable_target_pct"), ("SOPTask", "estimate_hours")} <= names


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    ("model", "name"), FLOAT_FIELDS, ids=[f"{m.__name__}.{f}" for m, f in FLOAT_FIELDS]
)
def test_no_request_number_is_nan_or_infinite(
    model: type[BaseModel], name: str, value: float
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.__pydantic_validator__.validate_assignment(model.model_construct(), name, value)
    kinds = {e["type"] for e in caught.value.errors() if e["loc"][:1] == (name,)}
    assert "finite_number" in kinds, caught.value.errors()


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
async def test_the_api_says_nan_is_not_a_number(client: httpx.AsyncClient, value: str) -> None:
    body = {"week_start": "2027-03-01", "capacity_hrs": 10, "billable_target_pct": 0}
    content = json.dumps(body).replace(
        '"billable_target_pct": 0', f'"billable_target_pct": {value}'
    )
    r = await client.post(
        "/api/v1/scheduler/sprints",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "billable_target_pct",
            "message": "must be a finite number, not NaN or Infinity",
        }
    ], r.text
