"""`almanac keys create|list|revoke` against the test database (in-process mode)."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from almanac.auth.service import KeyService
from almanac.cli.main import app
from almanac.db.engine import create_engine, create_sessionmaker
from almanac.state import AppState

runner = CliRunner()


def _verify(pg_url: str, key: str) -> str | None:
    """Check the key against the database on an engine of this test's own event loop."""

    async def go() -> str | None:
        engine = create_engine(pg_url)
        try:
            async with create_sessionmaker(engine)() as session:
                principal = await KeyService(session).verify(key)
        finally:
            await engine.dispose()
        return None if principal is None else f"{principal.name}:{principal.scope}"

    return asyncio.run(go())


def test_create_list_revoke(cli_env: AppState, pg_url: str) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "laptop", "--scope", "read"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    key = lines[-1]
    assert key.startswith("alm_") and "laptop" in lines[0]
    assert _verify(pg_url, key) == "laptop:read"

    result = runner.invoke(app, ["keys", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {k["name"]: k for k in json.loads(result.output)}
    assert rows["laptop"]["scope"] == "read" and rows["laptop"]["prefix"] == key[:12]
    assert key not in result.output
    table = runner.invoke(app, ["keys", "list"]).output
    assert "laptop" in table and key[12:] not in table

    result = runner.invoke(app, ["keys", "revoke", "laptop"])
    assert result.exit_code == 0 and "revoked" in result.output
    assert _verify(pg_url, key) is None
    assert "laptop" not in {
        k["name"] for k in json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
    }


def test_create_and_revoke_as_json(cli_env: AppState, pg_url: str) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "ci", "--scope", "write", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["name"] == "ci" and created["scope"] == "write"
    assert _verify(pg_url, created["key"]) == "ci:write"
    result = runner.invoke(app, ["keys", "revoke", "ci", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["name"] == "ci"
    assert _verify(pg_url, created["key"]) is None


def test_bad_input_is_exit_2_with_a_reason(cli_env: AppState) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "root"])
    assert result.exit_code == 2 and "scope" in result.output
    result = runner.invoke(app, ["keys", "create", "--name", "bad name!", "--scope", "read"])
    assert result.exit_code == 2 and "name" in result.output
    result = runner.invoke(app, ["keys", "revoke", "nobody"])
    assert result.exit_code == 2 and "nobody" in result.output
    runner.invoke(app, ["keys", "create", "--name", "twice", "--scope", "read"])
    result = runner.invoke(app, ["keys", "create", "--name", "twice", "--scope", "read"])
    assert result.exit_code == 2 and "already exists" in result.output


def test_a_name_that_is_no_path_part_is_refused_naming_it(cli_env: AppState) -> None:
    """`keys revoke ""` reached `DELETE /keys/`, whose redirect was read as JSON (a
    JSONDecodeError traceback); `prompts activate " " v1` was an InvalidURL traceback and
    `prompts activate a/b v1` a bare "Not Found"."""
    cases = {
        ("keys", "revoke", ""): "NAME: must be a name, not empty",
        ("keys", "revoke", "a/b"): "NAME: must be a name without /",
        ("prompts", "activate", " ", "v1"): "NAME: must be a name, not empty",
        ("prompts", "activate", "a/b", "v1"): "NAME: must be a name without /",
        ("prompts", "activate", "planning", ""): "VERSION: must be a name, not empty",
        # Path steps the client resolves: `keys/..` was the API's root.
        ("keys", "revoke", ".."): "NAME: must be a name without / (nor . or ..)",
        ("prompts", "activate", ".", "v1"): "NAME: must be a name without / (nor . or ..)",
    }
    for args, said in cases.items():
        result = runner.invoke(app, list(args))
        assert result.exit_code == 2 and said in result.output, (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)
