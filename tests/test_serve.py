"""`almanac serve` as a user runs it: no configuration, embedded Postgres, clean shutdown."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.live_server import free_port


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"server exited with {proc.returncode}:\n{out}")
        try:
            response = httpx.get(url + "/health", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("server did not become healthy")


def _postgres_pids(data_dir: Path) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "postgres" in (proc.info["name"] or "") and str(data_dir) in cmd:
            pids.append(proc.pid)
    return pids


@pytest.mark.parametrize("service", ["all", "memory"])
def test_serve_with_embedded_defaults(tmp_path: Path, service: str):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_DATA_DIR"] = str(tmp_path / "data")
    cmd = [sys.executable, "-m", "almanac", "serve", "--port", str(port)]
    if service != "all":
        cmd.insert(4, service)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # Without a key, /health says only whether the service is usable.
        assert _wait_healthy(url, proc).json() == {"status": "ok"}
        # The first start created an admin key, readable by its owner only.
        key_path = tmp_path / "data" / "api-key"
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        key = key_path.read_text().strip()
        assert (
            httpx.get(url + "/api/v1/memory/recall", params={"query": "x"}, timeout=60).status_code
            == 401
        )
        auth = {"Authorization": f"Bearer {key}"}
        health = httpx.get(url + "/health", headers=auth, timeout=60).json()
        assert health["dependencies"]["database"] == {
            "status": "ok",
            "required": True,
            "detail": "embedded",
            "latency_ms": health["dependencies"]["database"]["latency_ms"],
        }
        assert health["services"] == (["memory", "planner"] if service == "all" else ["memory"])
        r = httpx.post(
            url + "/api/v1/memory/remember",
            json={"content": "Renew passport in May"},
            headers=auth,
            timeout=60,
        )
        assert r.status_code == 201
        hits = httpx.get(
            url + "/api/v1/memory/recall", params={"query": "passport"}, headers=auth, timeout=60
        ).json()
        assert hits["results"][0]["content"] == "Renew passport in May"
        # The CLI on the same data folder sends the key file's key to the running server.
        cli = [sys.executable, "-m", "almanac", "recall", "passport", "--json", "--url", url]
        out = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "Renew passport in May" in out.stdout
        bad = subprocess.run(
            cli, env={**env, "ALMANAC_API_KEY": "alm_" + "w" * 43}, capture_output=True, text=True
        )
        assert bad.returncode == 2 and "not valid" in bad.stderr
        assert _postgres_pids(tmp_path / "data")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    deadline = time.monotonic() + 20
    while _postgres_pids(tmp_path / "data") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postgres_pids(tmp_path / "data") == [], "embedded Postgres left running"


def test_serve_help_says_where_the_first_admin_key_is() -> None:
    """The key the first start makes was named only in the log and the README."""
    from typer.testing import CliRunner

    from almanac.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "admin key to <data folder>/api-key" in result.output, result.output
