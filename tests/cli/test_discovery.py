"""The CLI finds the server running on its data folder, and never writes behind its back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from almanac.cli.main import app
from almanac.discovery import find_record, write_record
from tests.live_server import free_port

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_live_record_that_does_not_answer_is_an_error(_own_data_dir: Path):
    # This test process is alive; nothing listens on the port.
    write_record(_own_data_dir, "127.0.0.1", free_port(), ["memory", "planner"])
    code, out = invoke("remember", "must not be written in-process")
    assert code == 1
    assert "does not answer" in out and "nothing was written" in out
    assert str(os.getpid()) in out


def test_a_dead_servers_record_is_ignored(_own_data_dir: Path):
    path = write_record(_own_data_dir, "127.0.0.1", free_port(), ["memory", "planner"])
    body = json.loads(path.read_text())
    body["pid"] = 2**22 + 12345  # above pid_max: no such process
    path.write_text(json.dumps(body))
    from almanac.cli.connect import target

    assert target(None, "memory") == (None, None)  # in-process


def test_explicit_url_wins(_own_data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    write_record(_own_data_dir, "127.0.0.1", free_port(), ["memory", "planner"])
    monkeypatch.setenv("ALMANAC_URL", "http://127.0.0.1:9/")
    from almanac.cli.connect import target

    assert target(None, "memory") == ("http://127.0.0.1:9", None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A real `almanac serve` on a non-default port with its own embedded Postgres."""
    data = tmp_path_factory.mktemp("served") / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_DATA_DIR"] = str(data)
    cmd = [sys.executable, "-m", "almanac", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"server exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not become healthy")
    yield data, url, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def test_cli_uses_the_recorded_server(
    server: tuple[Path, str, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
):
    data, url, proc = server
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(data))
    record = find_record(data, "memory")
    assert record is not None and record.url == url and record.pid == proc.pid

    # The server caches this (empty) recall; a write behind its back would leave it stale.
    first = httpx.get(
        url + "/api/v1/memory/recall", headers=_key(data), params={"query": "harbour"}, timeout=60
    ).json()
    assert first["results"] == []
    code, out = invoke("remember", "Boat trip to the harbour on Sunday")
    assert code == 0, out
    again = httpx.get(
        url + "/api/v1/memory/recall", headers=_key(data), params={"query": "harbour"}, timeout=60
    ).json()
    assert [h["content"] for h in again["results"]] == ["Boat trip to the harbour on Sunday"]

    code, out = invoke("recall", "harbour", "--json")
    assert code == 0 and json.loads(out)["results"][0]["content"].startswith("Boat trip")

    # A complete first run: the starter library is there, and / leads to the docs.
    code, out = invoke("workflows", "list", "--json")
    assert code == 0, out
    names = {w["name"] for w in json.loads(out)["items"]}
    assert {"Discovery call", "Weekly review"} <= names
    home = httpx.get(url + "/", headers=_key(data), follow_redirects=False, timeout=60)
    assert home.status_code == 307 and home.headers["location"] == "/ui/"
    plan = httpx.post(
        url + "/api/v1/planner/plan",
        headers=_key(data),
        json={"intent": "Run a discovery call"},
        timeout=60,
    )
    assert plan.status_code == 201, plan.text

    # `workflows import` goes through the server too.
    code, out = invoke("workflows", "import")
    assert code == 0 and "0 created, 0 updated" in out, out


async def _old_event(data: Path, content: str) -> int:
    """An event from 200 days ago, written straight into the server's embedded Postgres
    (the API dates what it stores now)."""
    pgdata = data / "postgres"
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    password = (data / "postgres-password").read_text().strip()
    conn = await asyncpg.connect(
        host=socket_dir, user="postgres", password=password, database="almanac"
    )
    try:
        old = datetime.now(UTC) - timedelta(days=200)
        event_id: int = await conn.fetchval(
            "INSERT INTO events (content, event_type, event_source, memory_scope, "
            "salience_score, occurred_at, created_at) "
            "VALUES ($1, 'memory', 'user', 'session', 0.5, $2, $2) RETURNING id",
            content,
            old,
        )
        return event_id
    finally:
        await conn.close()


def test_retention_and_jobs_go_through_the_server(
    server: tuple[Path, str, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
):
    data, url, _proc = server
    monkeypatch.setenv("ALMANAC_DATA_DIR", str(data))
    # A database the CLI cannot reach: run in-process, behind the server, it would fail.
    monkeypatch.setenv("ALMANAC_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    event_id = asyncio.run(_old_event(data, "Lighthouse logbook from long ago"))
    event = url + f"/api/v1/memory/events/{event_id}"
    assert httpx.get(event, headers=_key(data), timeout=60).status_code == 200

    code, out = invoke("retention", "run", "--days", "30", "--dry-run", "--json")
    assert code == 0, out
    assert json.loads(out)["eligible"] >= 1 and json.loads(out)["deleted"] == 0
    assert httpx.get(event, headers=_key(data), timeout=60).status_code == 200

    code, out = invoke("retention", "run", "--days", "30")
    assert code == 0, out
    assert "archived and deleted" in out and str(data / "retention") in out
    assert httpx.get(event, headers=_key(data), timeout=60).status_code == 404

    code, out = invoke("jobs", "list", "--json", "--limit", "50")
    assert code == 0, out
    served = httpx.get(
        url + "/api/v1/jobs", headers=_key(data), params={"limit": 50}, timeout=60
    ).json()
    assert [j["id"] for j in json.loads(out)] == [j["id"] for j in served]
    code, out = invoke("jobs", "list", "--status", "sleeping")
    assert code == 2 and "status" in out


def test_record_removed_on_stop(server: tuple[Path, str, subprocess.Popen[bytes]]):
    data, _url, proc = server
    assert (data / "server.json").exists()
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    assert not (data / "server.json").exists()


def _key(data: Path) -> dict[str, str]:
    """The admin key the server wrote on its first start."""
    return {"Authorization": "Bearer " + (data / "api-key").read_text().strip()}


def test_docs_go_to_the_gateway_when_the_services_run_apart(_own_data_dir: Path):
    """`almanac serve memory` and `almanac serve planner` on one data folder each record
    themselves; documents are the Gateway's. Before, `almanac docs` asked the Planner's
    record (here one that does not answer; a live Planner answers 404)."""
    from tests.doubles.loopback import JSONHandler, Loopback

    class Gateway(JSONHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/v1/memory/documents"):
                self._send(200, {"items": [{"id": 7, "title": "Kept by the Gateway"}]})
            else:
                self._send(404, {"title": "Not Found", "status": 404})

    gateway = Loopback(Gateway, "gateway")
    try:
        port = int(gateway.base_url.rsplit(":", 1)[1].split("/")[0])
        write_record(_own_data_dir, "127.0.0.1", port, ["memory"])
        write_record(_own_data_dir, "127.0.0.1", free_port(), ["planner"])
        code, out = invoke("docs", "list", "--json")
    finally:
        gateway.close()
    assert code == 0, out
    assert json.loads(out) == [{"id": 7, "title": "Kept by the Gateway"}]


async def test_mcp_tools_go_to_their_service_when_the_services_run_apart(_own_data_dir: Path):
    """`almanac mcp` (stdio) with `serve memory` and `serve planner` recorded apart: each
    tool goes to the server of its route. Before, every tool went to the Planner's record,
    and the memory tools (recall, remember, facts, context, documents) got its 404."""
    from tests.doubles.loopback import JSONHandler, Loopback
    from tests.mcp.helpers import ok, stdio_session

    seen: list[tuple[str, str]] = []

    def serving(name: str, prefix: str, answers: dict[str, dict[str, object]]) -> Loopback:
        class Handler(JSONHandler):
            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(size)
                path = self.path.split("?", 1)[0]
                if path.startswith(prefix) and path in answers:
                    seen.append((name, path))
                    self._send(200, answers[path])
                else:
                    self._send(404, {"title": "Not Found", "status": 404, "detail": path})

            do_GET = do_POST = _answer

        return Loopback(Handler, name)

    gateway = serving("gateway", "/api/v1/memory", {"/api/v1/memory/remember": {"id": 41}})
    planner = serving("planner", "/api/v1/planner", {"/api/v1/planner/plans": {"items": []}})
    try:
        for double, service in ((gateway, "memory"), (planner, "planner")):
            port = int(double.base_url.rsplit(":", 1)[1].split("/")[0])
            write_record(_own_data_dir, "127.0.0.1", port, [service])
        env = {**os.environ, "ALMANAC_API_KEY": "alm_test-key"}
        async with stdio_session(env) as s:
            text, _ = await ok(s, "remember", content="Invoice Acme on the 1st")
            assert text == "remembered #41"
            text, _ = await ok(s, "list_plans")
            assert text == "no plans"
    finally:
        gateway.close()
        planner.close()
    assert seen == [("gateway", "/api/v1/memory/remember"), ("planner", "/api/v1/planner/plans")]
