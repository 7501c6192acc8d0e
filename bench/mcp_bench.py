"""What the assistant integrations cost, and the context block at scale.

Usage: .venv/bin/python bench/mcp_bench.py [--memories 100000] [--calls 200] [--clients 20]

Starts an embedded Postgres and `almanac serve` on loopback, loads --memories memories over
HTTP (varied sentences for --clients clients, 1% salient preferences that become facts) and
a scheduled plan for five clients, then measures, interleaving each wrapper call with the
REST call it wraps so both see the same load:

- MCP over Streamable HTTP (/mcp, the SDK's ClientSession) and over stdio (`almanac mcp`
  talking to the server): a cheap read (get_facts) and a recall (distinct queries, so no
  cache hits), versus the same REST call from a persistent httpx client;
- the Open WebUI tools file (query_memory) versus the same REST recall;
- the context block (GET /memory/context) at budgets 500, 2000 and 8000 tokens: build time
  reported by the server (p50/p95), tokens used versus budget, and a plain recall (k=30,
  uncached) as the baseline it is built around;
- before/after in the same run: a second server on the same database with
  ALMANAC_SEARCH__EXACT_SCAN_ROWS=0 (every filtered recall walks the HNSW index, as before
  the exact path for narrow filters), its context blocks and client-filtered recalls
  interleaved call by call with the default server's.

--data-dir DIR keeps the data folder (embedded Postgres included) and, when it already
holds a load of the same size, skips loading.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median, percentile, print_table, write_json  # noqa: E402
from memory_load import CLIENTS, TOPICS, free_port, question, sentence  # noqa: E402

INTENTS = ["Run a marketing audit for {c}"]
HOW = ["weekly", "monthly", "by phone", "in writing"]


# The loaded size, written into --data-dir after a load so a re-run can skip it.
LOADED = "bench-loaded.json"


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(env, ALMANAC_SERVER__PORT=str(port))
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "almanac"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("server did not become healthy")
        time.sleep(0.3)


async def load(api: httpx.AsyncClient, count: int, clients: int) -> float:
    rng = random.Random(5)
    started = time.perf_counter()
    done = 0
    while done < count:
        items = []
        for _ in range(min(1000, count - done)):
            client = rng.randint(1, clients)
            item: dict[str, Any] = {"content": sentence(rng), "client_id": client}
            if rng.random() < 0.01:
                topic = rng.choice(TOPICS)
                item.update(
                    content=f"Client {client} prefers {topic} updates {rng.choice(HOW)}",
                    salience_score=0.9,
                    metadata={
                        "subject_type": "client",
                        "subject_id": str(client),
                        "fact_type": "preference",
                        "category": topic.replace(" ", "_")[:50],
                    },
                )
            items.append(item)
        r = await api.post("/api/v1/memory/remember/batch", json={"items": items})
        r.raise_for_status()
        done += len(items)
    return count / (time.perf_counter() - started)


async def seed_plans(api: httpx.AsyncClient) -> None:
    (await api.post("/api/v1/planner/workflows/import")).raise_for_status()
    for client in range(1, 6):
        intent = INTENTS[client % len(INTENTS)].format(c=CLIENTS[client % len(CLIENTS)])
        r = await api.post("/api/v1/planner/plan", json={"intent": intent, "client_id": client})
        if r.status_code != 201:
            raise SystemExit(f"planning failed: {r.text}")
        plan = r.json()
        (await api.post(f"/api/v1/planner/plans/{plan['id']}/approve")).raise_for_status()
        r = await api.post(
            "/api/v1/scheduler/schedule", json={"plan_id": plan["id"], "dry_run": False}
        )
        r.raise_for_status()


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = await fn()
    return (time.perf_counter() - t) * 1000, out


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": median(values), "p95": percentile(values, 95), "n": len(values)}


def load_openwebui_tools(url: str, key: str | None) -> Any:
    path = ROOT / "integrations" / "openwebui" / "almanac_tools.py"
    spec = importlib.util.spec_from_file_location("tool_almanac_bench", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    tools = module.Tools()
    tools.valves = tools.Valves(almanac_url=url, api_key=key or "")
    return tools


async def pairs(
    name: str,
    calls: int,
    rest: Callable[[int], Awaitable[Any]],
    wrapped: Callable[[int], Awaitable[Any]],
) -> dict[str, Any]:
    for i in range(5):  # warm up both paths
        await rest(10**6 + i)
        await wrapped(2 * 10**6 + i)
    base, over = [], []
    for i in range(calls):
        base.append((await timed(lambda i=i: rest(i)))[0])  # type: ignore[misc]
        over.append((await timed(lambda i=i: wrapped(i)))[0])  # type: ignore[misc]
    b, w = stats(base), stats(over)
    return {
        "name": name,
        "rest_ms": b,
        "wrapper_ms": w,
        "overhead_p50_ms": w["p50"] - b["p50"],
        "ratio_p50": w["p50"] / b["p50"],
    }


async def run(
    args: argparse.Namespace, url: str, before_url: str, data_dir: Path, env: dict[str, str]
) -> dict[str, Any]:
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client

    from mcp import ClientSession, StdioServerParameters

    key_file = data_dir / "api-key"
    key = key_file.read_text().strip() if key_file.exists() else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    out: dict[str, Any] = {"memories": args.memories}
    marker = data_dir / LOADED
    wanted = {"memories": args.memories, "clients": args.clients}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as api:
        if marker.exists() and json.loads(marker.read_text()) == wanted:
            out["load_memories_per_s"] = None  # reused
        else:
            out["load_memories_per_s"] = await load(api, args.memories, args.clients)
            await seed_plans(api)
            marker.write_text(json.dumps(wanted))
        rng = random.Random(9)
        qi = (f"{question(rng)} ({i})" for i in itertools.count())  # never a cache hit

        async def rest_facts(i: int) -> Any:
            r = await api.get(
                "/api/v1/memory/facts",
                params={"subject_type": "client", "subject_id": str(i % 5 + 1), "limit": 5},
            )
            r.raise_for_status()

        async def rest_recall(i: int) -> Any:
            r = await api.get("/api/v1/memory/recall", params={"query": next(qi), "k": 10})
            r.raise_for_status()

        rows = []
        async with httpx.AsyncClient(headers=headers, timeout=300) as h:
            async with streamable_http_client(url + "/mcp", http_client=h) as (r, w, _):
                async with ClientSession(r, w) as s:
                    await s.initialize()

                    async def mcp_facts(i: int) -> Any:
                        res = await s.call_tool(
                            "get_facts",
                            {"subject_type": "client", "subject_id": str(i % 5 + 1), "limit": 5},
                        )
                        assert not res.isError

                    async def mcp_recall(i: int) -> Any:
                        res = await s.call_tool("recall", {"query": next(qi), "k": 10})
                        assert not res.isError

                    rows.append(
                        await pairs("MCP HTTP get_facts", args.calls, rest_facts, mcp_facts)
                    )
                    rows.append(await pairs("MCP HTTP recall", args.calls, rest_recall, mcp_recall))

        params = StdioServerParameters(
            command=str(ROOT / ".venv" / "bin" / "almanac"), args=["mcp"], env=env
        )
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()

            async def stdio_facts(i: int) -> Any:
                res = await s.call_tool(
                    "get_facts",
                    {"subject_type": "client", "subject_id": str(i % 5 + 1), "limit": 5},
                )
                assert not res.isError

            rows.append(await pairs("MCP stdio get_facts", args.calls, rest_facts, stdio_facts))

        tools = load_openwebui_tools(url, key)

        async def owui_recall(i: int) -> Any:
            text = await tools.query_memory(next(qi), limit=10)
            # A query the relevance floor finds nothing for is an answer too.
            assert text.startswith(("- #", "Nothing found")), text

        rows.append(await pairs("Open WebUI query_memory", args.calls, rest_recall, owui_recall))
        out["overhead"] = rows

        async with httpx.AsyncClient(base_url=before_url, headers=headers, timeout=300) as old:
            out["context"] = await context_rows(api, old, args, qi)
    return out


async def context_rows(
    api: httpx.AsyncClient, old: httpx.AsyncClient, args: argparse.Namespace, qi: Any
) -> dict[str, Any]:
    """Context blocks and recalls, each call made on both servers in alternating order."""
    n = args.calls // 2

    async def both(path: str, params: dict[str, Any], i: int) -> dict[str, Any]:
        got = {}
        for name, c in (("after", api), ("before", old))[:: 1 if i % 2 else -1]:
            ms, r = await timed(lambda c=c: c.get(path, params=params))  # type: ignore[misc]
            r.raise_for_status()
            got[name] = (ms, r.json())
        return got

    baseline: list[float] = []
    recall: dict[str, list[float]] = {"after": [], "before": []}
    for i in range(n):
        r = await api.get("/api/v1/memory/recall", params={"query": next(qi), "k": 30})
        baseline.append(r.raise_for_status().json()["took_ms"])
        params = {"query": next(qi), "k": 30, "client_id": i % args.clients + 1}
        for name, (_, body) in (await both("/api/v1/memory/recall", params, i)).items():
            recall[name].append(body["took_ms"])
    rows = []
    for budget in (500, 2000, 8000):
        build: dict[str, list[float]] = {"after": [], "before": []}
        wall, used = [], []
        for i in range(n):
            params = {"query": next(qi), "client_id": i % args.clients + 1, "token_budget": budget}
            for name, (ms, body) in (await both("/api/v1/memory/context", params, i)).items():
                assert body["tokens"] <= budget, body
                build[name].append(body["took_ms"])
                if name == "after":
                    wall.append(ms)
                    used.append(body["tokens"] / budget)
        rows.append(
            {
                "budget": budget,
                "build_ms": stats(build["after"]),
                "build_before_ms": stats(build["before"]),
                "ratio_p50": median(build["after"]) / median(build["before"]),
                "request_ms": stats(wall),
                "fill_share": {"median": median(used), "min": min(used), "max": max(used)},
                "over_budget": 0,
            }
        )
    return {
        "baseline_recall_k30_ms": stats(baseline),
        "client_recall_k30_ms": stats(recall["after"]),
        "client_recall_k30_before_ms": stats(recall["before"]),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) this data folder")
    args = parser.parse_args()

    from almanac.db.embedded import start_embedded

    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="almanac-mcp-bench-")
    data_dir = args.data_dir or Path(tmp.name)  # type: ignore[union-attr]
    pg = asyncio.run(start_embedded(data_dir / "pg", database="almanac_bench"))
    proc = before = None
    try:
        env = dict(os.environ, ALMANAC_DATA_DIR=str(data_dir), ALMANAC_DATABASE_URL=pg.url)
        env.pop("ALMANAC_VALKEY_URL", None)
        env.update(
            ALMANAC_JOBS__EMBEDDED_WORKER="false",
            ALMANAC_SCHEDULER__TIME_LIMIT_SECONDS="2",
            # The load and the measured calls are far above a person's per-key rate limit.
            ALMANAC_SECURITY__RATE_LIMIT="1000000/minute",
            ALMANAC_SECURITY__WRITE_RATE_LIMIT="1000000/minute",
        )
        proc, url = start_server(env)
        before, before_url = start_server(dict(env, ALMANAC_SEARCH__EXACT_SCAN_ROWS="0"))
        env["ALMANAC_SERVER__PORT"] = url.rsplit(":", 1)[1]
        out = asyncio.run(run(args, url, before_url, data_dir, env))
    finally:
        for p in (proc, before):
            if p is not None:
                p.terminate()
                p.wait(60)
        pg.stop()
        if tmp is not None:
            tmp.cleanup()

    print_table(
        f"integration overhead over REST ({args.calls} interleaved calls, p50/p95 ms)",
        ["call", "REST p50", "REST p95", "wrapper p50", "wrapper p95", "overhead p50", "ratio"],
        [
            [
                r["name"],
                r["rest_ms"]["p50"],
                r["rest_ms"]["p95"],
                r["wrapper_ms"]["p50"],
                r["wrapper_ms"]["p95"],
                r["overhead_p50_ms"],
                r["ratio_p50"],
            ]
            for r in out["overhead"]
        ],
    )
    ctx = out["context"]
    base, cr, cb = (
        ctx["baseline_recall_k30_ms"],
        ctx["client_recall_k30_ms"],
        ctx["client_recall_k30_before_ms"],
    )
    print_table(
        f"context block at {args.memories} memories, server build time (ms); before = "
        "filtered recall by HNSW (exact_scan_rows=0), interleaved",
        [
            "budget",
            "build p50",
            "build p95",
            "before p50",
            "before p95",
            "ratio p50",
            "request p50",
            "fill median",
            "fill min",
            "fill max",
        ],
        [
            [
                c["budget"],
                c["build_ms"]["p50"],
                c["build_ms"]["p95"],
                c["build_before_ms"]["p50"],
                c["build_before_ms"]["p95"],
                c["ratio_p50"],
                c["request_ms"]["p50"],
                c["fill_share"]["median"],
                c["fill_share"]["min"],
                c["fill_share"]["max"],
            ]
            for c in ctx["rows"]
        ],
    )
    print(
        f"recall k=30 (server time): unfiltered p50 {base['p50']:.1f} / p95 {base['p95']:.1f} "
        f"ms; one client p50 {cr['p50']:.1f} / p95 {cr['p95']:.1f} ms, before "
        f"p50 {cb['p50']:.1f} / p95 {cb['p95']:.1f} ms"
    )
    rate = out["load_memories_per_s"]
    print(f"loaded {args.memories} memories at {rate:.0f}/s" if rate else "reused the load")
    path = write_json("mcp_bench", out)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
