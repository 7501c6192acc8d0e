"""`almanac export|import|backup|restore`: data that round-trips.

The source is the demo's whole loop (memories, facts, calendar, plans, approvals, a
schedule, execution runs, a reflection, pattern facts) plus a sprint, a prompt version,
an edited plan, a superseded fact and a client's document (recall cites its chunk). Every
list and read endpoint must answer the same after an import into a fresh database, and
after a restore into a fresh data folder.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from almanac.cli.demo import run_demo
from almanac.cli.main import app
from almanac.cli.runtime import answer, api_client, in_process_request
from almanac.config import Settings
from almanac.state import AppState
from tests.cli.conftest import reset_prompts

runner = CliRunner()
PROPOSAL = """# Proposal for Acme Corp

We propose a twelve week marketing operations engagement.

## Pricing

The fixed fee is 18,500 euros, invoiced in three instalments.
"""
VOLATILE = {"took_ms", "cached", "checked_at", "generated_at"}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


async def _populate() -> None:
    async with api_client(Settings(), None, in_process=True) as client:
        await run_demo(client, "Europe/Berlin", lambda _line: None)

        async def call(method: str, path: str, **kw: Any) -> Any:
            return answer(await client.request(method, path, **kw))

        await call(
            "POST",
            "/api/v1/scheduler/sprints",
            json={"week_start": "2026-03-02", "capacity_hrs": 30, "billable_target_pct": 60},
        )
        await call(
            "POST",
            "/api/v1/planner/prompts/sop_generator/versions",
            json={"content": "Write the plan as numbered steps, each with tasks and hours."},
        )
        plans = await call("GET", "/api/v1/planner/plans", params={"status": "draft"})
        plan = await call("GET", f"/api/v1/planner/plans/{plans['items'][0]['id']}")
        sop = plan["sop"]
        sop["steps"][0]["tasks"][0]["estimate_hours"] += 1
        await call("PUT", f"/api/v1/planner/plans/{plan['id']}", json={"sop": sop})
        fact = await call(
            "POST",
            "/api/v1/memory/facts",
            json={
                "subject_type": "client",
                "subject_id": "acme",
                "fact_type": "constraint",
                "content": "Acme pays on the 15th",
                "valid_from": "2026-01-01T00:00:00+00:00",
            },
        )
        await call(
            "POST",
            f"/api/v1/memory/facts/{fact['fact']['id']}/supersede",
            json={"content": "Acme pays on the 30th", "valid_from": "2026-02-01T00:00:00+00:00"},
        )
        await call(
            "POST",
            "/api/v1/memory/documents",
            files={"file": ("acme-proposal.md", PROPOSAL.encode())},
            data={"client_id": "7", "tags": "proposal"},
        )


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot() -> dict[str, Any]:
    """The answers of every list endpoint, and of the read endpoint of each listed item."""

    def get(path: str, **params: Any) -> Any:
        status, body = in_process_request("GET", path, params=params)
        assert status == 200, (path, body)
        return _strip(body)

    out: dict[str, Any] = {}
    out["facts"] = get("/api/v1/memory/facts", include_history="true", limit=1000)
    # A score's recency boost moves with the clock (minutes apart on a loaded machine): the
    # hits and their order are what an import must keep.
    memories = get("/api/v1/memory/recall", query="deep work in the morning", k=5)
    out["recall"] = {**memories, "results": [{**h, "score": None} for h in memories["results"]]}
    out["documents"] = get("/api/v1/memory/documents")
    for d in out["documents"]["items"]:
        out[f"document {d['id']}"] = get(f"/api/v1/memory/documents/{d['id']}")
    found = get("/api/v1/memory/recall", query="how much is the fixed fee?", kinds="document", k=3)
    # The document was added moments ago: its recency boost moves with the clock too.
    out["document recall"] = [{**h, "score": None} for h in found["results"]]
    plans = get("/api/v1/planner/plans", limit=200)
    out["plans"] = plans
    for p in plans["items"]:
        out[f"plan {p['id']}"] = get(f"/api/v1/planner/plans/{p['id']}")
        out[f"plan {p['id']} versions"] = get(f"/api/v1/planner/plans/{p['id']}/versions")
    for name in ("workflows", "blueprints", "process-templates", "execution-runs"):
        out[name] = get(f"/api/v1/planner/{name}", limit=500)
    for w in out["workflows"]["items"]:
        out[f"workflow {w['id']}"] = get(f"/api/v1/planner/workflows/{w['id']}")
    out["prompts"] = get("/api/v1/planner/prompts")
    out["prompt versions"] = get("/api/v1/planner/prompts/sop_generator/versions")
    out["sprints"] = get("/api/v1/scheduler/sprints")
    for s in out["sprints"]:
        out[f"sprint {s['id']}"] = get(f"/api/v1/scheduler/sprints/{s['id']}")
    window = {"start": "2020-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    out["calendar events"] = get("/api/v1/calendar/events", **window)
    out["reflections"] = get("/api/v1/observer/reflections")
    out["patterns"] = get("/api/v1/observer/patterns")
    return out


async def _create_database(base_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(base_url)  # the embedded server asks for its password (scram)
    host = str(url.query.get("host") or url.host)
    conn = await asyncpg.connect(
        host=host, user=url.username, password=url.password, database="postgres"
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_url.replace("/almanac_test?", f"/{name}?")


@pytest.fixture
def source(
    pg_url: str, committed_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    monkeypatch.delenv("ALMANAC_VALKEY_URL", raising=False)
    asyncio.run(_populate())
    yield pg_url
    asyncio.run(reset_prompts(pg_url))


def test_export_import_round_trip_and_repeat(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    before = snapshot()
    assert before["execution-runs"]["items"] and before["reflections"]
    assert any(len(v) > 1 for k, v in before.items() if k.endswith("versions"))
    cited = before["document recall"][0]
    assert "18,500 euros" in cited["content"]
    assert cited["metadata"]["heading"] == "Pricing"
    assert cited["metadata"]["title"] == "Proposal for Acme Corp"

    dump = tmp_path / "export.jsonl"
    code, out = invoke("export", str(dump))
    assert code == 0, out
    lines = dump.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "almanac-export" and header["version"] == 1
    assert len(lines) - 1 == sum(header["tables"].values())

    target = asyncio.run(_create_database(source, f"almanac_import_{uuid.uuid4().hex[:8]}"))
    monkeypatch.setenv("ALMANAC_DATABASE_URL", target)
    # Cut at a line's end (a copy stopped short): it imported the first part, exit 0.
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:100]) + "\n")
    code, out = invoke("import", str(cut))
    assert code == 2 and "the file is not whole" in out and "nothing was imported" in out, out
    code, out = invoke("import", str(dump), "--json")
    assert code == 0, out
    first = json.loads(out)
    # The migrations seed the default prompts, so those are present already; all else is new.
    assert sum(first["inserted"].values()) + sum(first["present"].values()) == len(lines) - 1
    assert {t for t, n in first["present"].items() if n} <= {"prompt_templates"}
    after = snapshot()
    differ = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    assert after == before, json.dumps(differ)[:3000]

    code, out = invoke("import", str(dump), "--json")
    assert code == 0, out
    again = json.loads(out)
    assert sum(again["inserted"].values()) == 0
    assert sum(again["present"].values()) == len(lines) - 1
    assert snapshot() == before
    # Saved by an editor with a byte order mark: the same file.
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + dump.read_bytes())
    code, out = invoke("import", str(marked), "--json")
    assert code == 0 and sum(json.loads(out)["inserted"].values()) == 0, out

    # A new row after the import does not collide with an imported id.
    code, out = invoke("remember", "After the import", "--json")
    assert code == 0, out


def test_import_rejects_a_foreign_file_and_writes_nothing(
    pg_url: str, committed_state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something-else"}\n')
    code, out = invoke("import", str(bad))
    assert code == 2 and "almanac-export" in out


@pytest.mark.parametrize(
    "tail", [b"\xff\xfe not UTF-8\n", b"[" * 5000 + b"\n"], ids=["latin1", "deep"]
)
def test_import_of_a_broken_line_is_refused_without_a_traceback(
    pg_url: str, committed_state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    tail: bytes,
):  # fmt: skip
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"format": "almanac-export", "version": 1}\n' + tail)
    code, out = invoke("import", str(bad))
    assert code == 2 and "line 2: not a table row" in out, out


def test_a_file_from_a_newer_schema_says_so(
    pg_url: str, committed_state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    newer = tmp_path / "newer.jsonl"
    newer.write_text('{"format": "almanac-export", "version": 1, "schema": "9999"}\n')
    code, out = invoke("import", str(newer))
    assert code == 2 and "schema '9999', which this version of Almanac does not know" in out, out


def test_a_line_that_is_no_json_says_why(
    pg_url: str, committed_state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "almanac-export", "version": 1}\n{"table": "events" "row": {}}\n')
    code, out = invoke("import", str(bad))
    assert code == 2 and "line 2: not a table row (Expecting ',' delimiter" in out, out


def test_backup_and_restore_into_a_fresh_folder(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    before = snapshot()
    path = tmp_path / "almanac.dump"
    path.write_bytes(b"")
    # Through a link, as to a NAS: renamed over, the link became the backup and the
    # file it named stayed empty.
    link = tmp_path / "latest.dump"
    link.symlink_to(path)
    code, out = invoke("backup", str(link))
    assert code == 0 and path.stat().st_size > 0 and link.is_symlink(), out
    # The whole database: its owner's alone, as the data folder's api-key (it was 0644).
    assert path.stat().st_mode & 0o777 == 0o600, oct(path.stat().st_mode)

    monkeypatch.delenv("ALMANAC_DATABASE_URL")
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(fresh))
    # The new machine's own key, which the backup (another machine's) does not know: the
    # CLI sent it and every call was a 401.
    from almanac.auth.keyfile import read_key_file, write_key_file

    write_key_file(fresh, "alm_this-machines-key-the-backup-never-saw")
    code, out = invoke("restore", str(path))
    assert code == 2 and "--yes" in out
    code, out = invoke("restore", str(path), "--yes")
    assert code == 0, out
    assert "made admin key 'admin-restored'" in out, out
    key = read_key_file(fresh)
    assert key is not None and key != "alm_this-machines-key-the-backup-never-saw"
    assert snapshot() == before
    code, out = invoke("keys", "list", "--json")
    assert code == 0 and "admin-restored" in out, out


def test_restore_does_not_print_the_database_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def put_back(url: str, path: Path) -> None:
        assert "Hunter2/x" in url  # the restore itself gets the whole URL

    monkeypatch.setattr("almanac.backup.pgdump.restore", put_back)
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ALMANAC_DATABASE_URL", "postgresql://almanac:Hunter2/x@db.example/al")
    dump = tmp_path / "almanac.dump"
    dump.write_bytes(b"PGDMP")
    code, out = invoke("restore", str(dump), "--yes")
    assert code == 0, out
    assert "db.example" in out and "Hunter2" not in out


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (["export"], "missing/dir/out.jsonl"),
        (["export"], "."),
        (["export"], "a-file/out.jsonl"),
        (["memory", "export"], "missing/dir/out.jsonl"),
        (["memory", "export"], "."),
        (["backup"], "."),  # its missing folders it makes
        (["backup"], "a-file/out.dump"),
    ],
)
def test_export_to_a_path_it_cannot_write_is_one_line(
    tmp_path: Path, command: list[str], where: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / where
    result = runner.invoke(app, [*command, str(target)])
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith(f"error: cannot write {target}"), line
    assert not list(tmp_path.rglob("*.partial"))


def test_import_and_restore_wait_for_a_job_worker_on_the_folder(
    pg_url: str, committed_state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a server was looked for: with `almanac worker` running, a restore went ahead
    while the worker held its connections and wrote jobs' results."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "ALMANAC_DATABASE_URL": pg_url, "ALMANAC_DATA_DIR": str(tmp_path)}
    env.pop("ALMANAC_VALKEY_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "almanac", "worker", "--no-clock"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("worker-*.json")):
            assert worker.poll() is None and time.monotonic() < deadline, "no worker record"
            time.sleep(0.2)
        monkeypatch.setenv("ALMANAC_DATABASE_URL", pg_url)
        monkeypatch.setenv("ALMANAC_DATA_DIR", str(tmp_path))
        dump = tmp_path / "x.jsonl"
        dump.write_text('{"format": "almanac-export", "version": 1}\n')
        for args in (["import", str(dump)], ["restore", str(dump), "--yes"]):
            code, out = invoke(*args)
            assert code == 1 and f"a job worker (almanac worker, pid {worker.pid})" in out, out
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(60)
    assert not list(tmp_path.glob("worker-*.json"))  # it removes its record as it stops
