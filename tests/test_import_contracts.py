"""The import-linter contracts cover the whole package, so a new module cannot slip past
the layers or into the scheduler core unseen (ARCHITECTURE.md, "Who may import whom")."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

SRC = Path(__file__).parents[1] / "src" / "almanac"


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _modules(folder: Path, prefix: str) -> set[str]:
    """The modules and packages directly in `folder`, as dotted names."""
    names = {p.stem for p in folder.glob("*.py") if p.stem != "__init__" and p.stem != "__main__"}
    names |= {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}
    return {f"{prefix}.{n}" for n in names}


def test_every_top_level_module_is_in_a_layer() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    layered = {name.strip() for row in layers["layers"] for name in row.split("|")}
    assert _modules(SRC, "almanac") - {"almanac.migrations"} <= layered


def test_the_scheduler_core_may_import_nothing_else_of_almanac() -> None:
    (core,) = [c for c in _contracts() if c.get("source_modules") == ["almanac.scheduler.core"]]
    everything = _modules(SRC, "almanac") - {"almanac.migrations", "almanac.scheduler"}
    everything |= _modules(SRC / "scheduler", "almanac.scheduler") - {"almanac.scheduler.core"}
    assert everything <= set(core["forbidden_modules"])
