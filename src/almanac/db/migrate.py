"""Run Alembic migrations from code (at start-up and from `almanac db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from almanac.errors import DependencyUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it serialises concurrent start-ups (gateway and planner at once).
_MIGRATION_LOCK_ID = 0x616C6D61


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s_%%(rev)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def known_revisions() -> set[str]:
    """Every schema revision this code's migrations know."""
    from alembic.script import ScriptDirectory

    return {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _check_pgvector(connection: Connection) -> None:
    available = connection.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).scalar()
    if not available:
        raise DependencyUnavailable(
            "The Postgres server at ALMANAC_DATABASE_URL has no pgvector extension. "
            "Install pgvector on that server (e.g. the postgresql-NN-pgvector package), "
            "or unset ALMANAC_DATABASE_URL to use the embedded Postgres."
        )
    created = connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))
    if created.scalar():
        return
    can_create = connection.execute(
        text(
            "SELECT rolsuper OR COALESCE((SELECT trusted FROM pg_available_extension_versions "
            "WHERE name = 'vector' AND installed IS FALSE LIMIT 1), false) "
            "FROM pg_roles WHERE rolname = current_user"
        )
    ).scalar()
    if not can_create:
        database, role = connection.execute(text("SELECT current_database(), current_user")).one()
        raise DependencyUnavailable(
            f"pgvector is installed on the server but not created in database {database!r}, "
            f"and role {role!r} may not create it. As a superuser, in that database, run:\n"
            f"    CREATE EXTENSION vector;\n"
            f"(e.g. psql -U postgres -d {database} -c 'CREATE EXTENSION vector;'), "
            "then start again."
        )


def _upgrade(connection: Connection, revision: str) -> None:
    _check_pgvector(connection)
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the latest)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def check_database(engine: AsyncEngine) -> None:
    """Raise DependencyUnavailable, saying what to do, when pgvector cannot be used."""
    async with engine.connect() as conn:
        await conn.run_sync(_check_pgvector)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
