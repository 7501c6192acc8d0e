"""Command input checked by the API's own schemas: one message per field, exit code 2."""

from __future__ import annotations

from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def error_lines(exc: ValidationError, where: str = "input") -> list[str]:
    """`field: reason` for each error (`where` names an error without a field)."""
    return [
        f"{'.'.join(str(p) for p in e['loc']) or where}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


def validated(model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`; otherwise each problem on stderr and exit code 2."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for line in error_lines(exc):
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from exc
