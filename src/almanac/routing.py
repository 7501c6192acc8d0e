"""Path and query parameters shared by every router."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Path
from fastapi import Query as QueryParam

from almanac.types import BIGINT_MAX

T = TypeVar("T")

# A row id in a path: bigint ids, so a larger number is a 422, not a driver overflow.
PathId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
# `Params[XQuery]`: the fields of a query model (see `types.PageQuery`) as query parameters.
Params = Annotated[T, QueryParam()]
