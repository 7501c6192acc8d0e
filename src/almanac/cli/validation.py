"""Command input checked by the API's own schemas: one message per field, exit code 2."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import typer
from pydantic import BaseModel, ValidationError

from almanac.http_problems import error_message, field_path, reasons

M = TypeVar("M", bound=BaseModel)


def error_lines(exc: ValidationError, names: Mapping[str, str] | None = None) -> list[str]:
    """Each error as the server's refusal of the same value reads in every client
    (`http_problems.reasons`): `field: reason`, the reason alone where it begins with its
    field ("end must be after start") or is about the whole input. A check made here
    said "end: end must be after start", the server's "end must be after start".
    A field in `names` is said by the command's option (`horizon_days` → `--days`)."""
    names = names or {}
    lines = []
    for e in exc.errors():
        field = field_path(e["loc"])
        message = error_message(dict(e)).removeprefix("Value error, ")
        lines += reasons([{"field": names.get(field, field), "message": message}])
    return lines


def segment(value: str, name: str) -> str:
    """`value` as one part of a URL path, or exit code 2 naming `name`. Empty, it named
    another endpoint (`keys revoke ""` reached `DELETE /keys/`, whose redirect was read as
    JSON: a traceback); a space was no URL (a traceback), a `/` another path ("Not Found")."""
    if not value.strip() or "/" in value or value.strip() in (".", ".."):
        # `.` and `..` are path steps: the client resolves them (`keys/..` is /api/v1).
        what = "a name, not empty" if not value.strip() else "a name without / (nor . or ..)"
        typer.echo(f"error: {name}: must be {what}", err=True)
        raise typer.Exit(2)
    return quote(value, safe="")


def finite(low: float, high: float) -> Callable[[str], float]:
    """A parser for a bounded number option: typer's own `min`/`max` let NaN through to
    the range check ("nan" read as "must be ≤ 24") and infinity as too large. Pass it as
    `parser=` beside `min`/`max` (which then only show the range in --help)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise typer.BadParameter(f"{value!r} is not a number (NaN or infinity)")
        if not low <= number <= high:
            raise typer.BadParameter(f"{value} is not between {low:g} and {high:g}")
        return number

    return parse


def validated(model: type[M], data: dict[str, Any], names: Mapping[str, str] | None = None) -> M:
    """`data` as `model`; otherwise each problem on stderr (its fields by `names`, the
    model's name → the option) and exit code 2."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for line in error_lines(exc, names):
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from exc


def output_file(path: Path, *, parents_made: bool = False) -> None:
    """Exit code 2, before any work, when `path` cannot be written as a file: it is a
    folder, or (unless the command makes them) its folder does not exist. An export
    found out only at the end, with a traceback."""
    existing = next((p for p in path.parents if p.exists()), None)
    if path.is_dir():
        problem = "it is a folder"
    elif existing is not None and not existing.is_dir():
        problem = f"{existing} is no folder"
    elif not parents_made and not path.parent.is_dir():
        problem = f"{path.parent} does not exist"
    else:
        return
    typer.echo(f"error: cannot write {path}: {problem}; name a file in a folder", err=True)
    raise typer.Exit(2)
