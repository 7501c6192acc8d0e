"""One owner per table: each table is queried by the modules of one domain only.

The owners and the few documented crossings are read from ARCHITECTURE.md ("Who owns
which table"), so the map stays true: a module that starts querying another domain's
table fails here until it goes through the owner's repository (or the crossing is
documented), and a documented crossing the code no longer makes fails too.

A module "queries" a table when it uses the table's model as a value (`select(Plan)`,
`Plan.status == ...`, `Plan(...)`, `portable = (Plan,)`) or names the table in SQL text;
a model used only as a type (annotations, `list[Plan]`) is a row handed over by its owner.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from almanac.models import Base

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "almanac"
SKIP = ("models", "migrations")  # the schema itself
SQL_TABLE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO|TABLE)\s+([a-z_]+)")
CODE = re.compile(r"`([^`]+)`")


def model_tables() -> dict[str, str]:
    """Model class name → table name, for every mapped class."""
    return {m.class_.__name__: str(m.class_.__tablename__) for m in Base.registry.mappers}


def domain_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _type_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes that are types: annotations and generic parameters."""
    out: set[int] = set()
    for node in ast.walk(tree):
        for part in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if part is not None:
                out.update(id(n) for n in ast.walk(part))
        if isinstance(node, ast.Subscript):
            out.update(id(n) for n in ast.walk(node.slice))
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def queried_tables(path: Path, tables: dict[str, str]) -> set[str]:
    """The tables a module queries (see the module docstring)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("almanac.models"):
            for alias in node.names:
                if alias.name in tables:
                    names[alias.asname or alias.name] = tables[alias.name]
    types, docs = _type_nodes(tree), _docstrings(tree)
    known = set(tables.values())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names and id(node) not in types:
            found.add(names[node.id])
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        ):
            found.update(t for t in SQL_TABLE.findall(node.value) if t in known)
    return found


def queries() -> dict[str, dict[str, set[str]]]:
    """domain → module path (relative to src/almanac) → tables it queries."""
    tables = model_tables()
    out: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[0] in SKIP:
            continue
        found = queried_tables(path, tables)
        if found:
            out[domain_of(path)][path.relative_to(SRC).as_posix()] = found
    return out


def documented() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(table → owning domain, module → tables of other domains it may query) from
    ARCHITECTURE.md."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Who owns which table", 1)[1].split("\n## ", 1)[0]
    owners: dict[str, str] = {}
    crossings: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or not cells[0].startswith("`"):
            continue
        first, listed = CODE.findall(cells[0])[0], set(CODE.findall(cells[1]))
        if first.endswith(".py"):
            crossings[first] = listed
        else:
            for table in listed:
                assert table not in owners, f"{table} is listed under {owners[table]} and {first}"
                owners[table] = first
    return owners, crossings


def test_every_table_has_exactly_one_documented_owner() -> None:
    owners, _ = documented()
    tables = set(Base.metadata.tables)
    assert tables - set(owners) == set(), "tables without an owner in ARCHITECTURE.md"
    assert set(owners) - tables == set(), "ARCHITECTURE.md lists tables that do not exist"


def test_each_table_is_queried_only_by_its_owning_domain() -> None:
    owners, crossings = documented()
    found: dict[str, set[str]] = {}
    for domain, modules in queries().items():
        for module, tables in modules.items():
            foreign = {t for t in tables if owners.get(t) != domain}
            if foreign:
                found[module] = foreign
    undocumented = {m: t - crossings.get(m, set()) for m, t in found.items()}
    assert {m: t for m, t in undocumented.items() if t} == {}, (
        "these modules query other domains' tables: go through the owner's repository"
    )
    stale = {m: t - found.get(m, set()) for m, t in crossings.items()}
    assert {m: t for m, t in stale.items() if t} == {}, (
        "ARCHITECTURE.md documents crossings the code no longer makes: remove them"
    )


def test_the_scan_sees_queries_and_ignores_types(tmp_path: Path) -> None:
    """The check itself can fail: a value use or SQL text counts, an annotation does not."""
    module = tmp_path / "m.py"
    module.write_text(
        '"""FROM plans in a docstring is prose."""\n'
        "from almanac.models import Plan, Task as Row\n"
        "def f(rows: list[Row]) -> Plan | None:\n"
        "    return select(Plan).where(Plan.id == 1)\n"
        "SQL = 'SELECT 1 FROM sprints'\n"
    )
    assert queried_tables(module, model_tables()) == {"plans", "sprints"}
