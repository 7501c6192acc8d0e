"""Planning latency through HTTP: without an LLM (library of 200 workflows) and around an LLM.

Usage: .venv/bin/python bench/planner_bench.py [--workflows 200] [--requests 200]
                                               [--llm-requests 100] [--model-ms 200]

Starts an embedded Postgres, fills the workflow library (the starter files plus generated
workflows up to --workflows), and runs `almanac serve` twice on loopback: once without an
LLM, once with the OpenAI-compatible provider pointed at the scripted chat double from the
test tree, which answers every request after --model-ms (standing in for the model's time).

Reports p50/p95 of POST /plan without an LLM; Almanac's overhead around an LLM call (request
latency minus the double's fixed answer time); and, as the same-run baseline, p50 of a
primary-key read (GET /plans/{id}) through the same stack.

The LLM part asks for work no library workflow covers (`llm_intents`): for an intent that
matches one, the planner checks the LLM's adaptation against the workflow and plans from
the library when the scripted two-task answer drops most of its work, so no LLM plan would
be timed. A request that fails, or is not planned by the LLM, is counted with its reason
(`failure_reasons` in the JSON); a run with no LLM plan at all stops with an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, median, percentile, print_table, write_json  # noqa: E402

ACTIVITIES = [
    ("SEO audit", "delivery", ["search ranking", "keywords", "site audit"]),
    ("Paid ads setup", "growth", ["google ads", "campaign", "ad budget"]),
    ("CRM migration", "ops", ["hubspot", "salesforce", "contacts import"]),
    ("Brand workshop", "discovery", ["positioning", "brand values", "workshop"]),
    ("Webinar production", "growth", ["webinar", "registration page", "speakers"]),
    ("Analytics setup", "ops", ["tracking plan", "dashboards", "ga4"]),
    ("Case study writing", "growth", ["customer story", "interview", "case study"]),
    ("Pricing review", "discovery", ["pricing page", "packages", "price increase"]),
    ("Sales deck", "growth", ["pitch deck", "slides", "sales presentation"]),
    ("Website refresh", "delivery", ["landing pages", "copy", "web design"]),
]
SECTORS = [
    "a dental clinic",
    "a SaaS startup",
    "an e-commerce shop",
    "a law firm",
    "a bakery",
    "a nonprofit",
    "a gym",
    "an architecture studio",
    "a recruiting agency",
    "a B2B manufacturer",
    "a yoga studio",
    "a coffee roaster",
    "a real-estate agent",
    "a university lab",
    "a travel agency",
    "an accounting practice",
    "a museum",
    "a hotel",
    "a logistics firm",
    "a fintech",
]
VERBS = ["Research", "Draft", "Review", "Build", "Test", "Present", "Refine", "Publish"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generated_workflow(n: int, rng: random.Random) -> dict[str, Any]:
    name, capability, keywords = ACTIVITIES[n % len(ACTIVITIES)]
    sector = SECTORS[(n // len(ACTIVITIES)) % len(SECTORS)]
    steps = []
    previous: str | None = None
    for s in range(rng.randint(2, 4)):
        tasks = []
        for t in range(rng.randint(2, 4)):
            tid = f"s{s}t{t}"
            tasks.append(
                {
                    "id": tid,
                    "title": f"{rng.choice(VERBS)} {name.lower()} part {s}.{t}",
                    "estimate_hours": rng.choice([0.5, 1, 1.5, 2, 3, 4]),
                    "depends_on": [previous] if previous else [],
                    "billable": rng.random() < 0.7,
                    "priority": rng.randint(1, 4),
                }
            )
            previous = tid
        steps.append({"id": f"s{s}", "title": f"Phase {s + 1}", "tasks": tasks})
    return {
        "name": f"{name} for {sector}",
        "capability": capability,
        "steps": steps,
        "metadata": {"keywords": [*keywords, sector]},
    }


def starter_library() -> list[dict[str, Any]]:
    folder = ROOT / "src" / "almanac" / "ontology" / "library"
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "steps" in data:
            out.append(data)
    return out


def library_rows(count: int, rng: random.Random) -> list[Any]:
    """The starter workflows, then generated ones, up to `count` (as Workflow rows)."""
    from almanac.models import Workflow

    rows = starter_library()
    n = 0
    while len(rows) < count:
        rows.append(generated_workflow(n, rng))
        n += 1
    return [
        Workflow(
            name=row["name"],
            capability=row.get("capability"),
            steps=row["steps"],
            version=str(row.get("version", "1.0")),
            metadata_=row.get("metadata", {}),
        )
        for row in rows[:count]
    ]


async def fill_library(url: str, count: int) -> list[str]:
    """Insert the workflows; return intents that should match some of them."""
    from almanac.db.engine import create_engine, create_sessionmaker
    from almanac.db.migrate import upgrade

    rng = random.Random(11)
    engine = create_engine(url)
    await upgrade(engine)
    async with create_sessionmaker(engine)() as session:
        session.add_all(library_rows(count, rng))
        await session.commit()
    await engine.dispose()
    intents = []
    for i in range(400):
        name, _, keywords = ACTIVITIES[i % len(ACTIVITIES)]
        sector = SECTORS[rng.randrange(len(SECTORS))]
        intents.append(f"{name} for {sector}: {rng.choice(keywords)} #{i}")
    return intents


def llm_intents(count: int) -> list[str]:
    """Requests no workflow of the library covers, so the LLM's plan is the answer."""
    errands = [
        "Organise the volunteer picnic by the lake",
        "Repaint the garden shed and fix its door",
        "Plan a family reunion weekend in the mountains",
        "Sort out the attic and donate old furniture",
        "Train for a half marathon in the spring",
    ]
    return [f"{errands[i % len(errands)]} #{i}" for i in range(count)]


def failure(r: httpx.Response) -> str:
    """Why a plan request is not a timed sample: its status and the first line it gave."""
    if r.status_code == 201:
        notes = r.json().get("notes") or ["no note"]
        return f"201 from the library: {str(notes[0])[:160]}"
    try:
        detail = str(r.json().get("detail", ""))
    except ValueError:
        detail = r.text
    return f"{r.status_code}: {detail[:160]}"


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    port = free_port()
    # The benchmark's own request rate is not what a person sends: lift the per-key limits.
    env = {**env, "ALMANAC_SECURITY__RATE_LIMIT": "1000000/minute"}
    env["ALMANAC_SECURITY__WRITE_RATE_LIMIT"] = "1000000/minute"
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "almanac"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    deadline = time.time() + 120
    while True:
        try:
            if client.get("/health").status_code == 200:
                # The first start wrote an admin key to the data folder.
                key = (Path(env["ALMANAC_DATA_DIR"]) / "api-key").read_text().strip()
                client.headers["Authorization"] = f"Bearer {key}"
                return proc, client
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            raise SystemExit("server did not become healthy")
        time.sleep(0.3)


def timed(client: httpx.Client, method: str, path: str, **kw: Any) -> tuple[float, httpx.Response]:
    t = time.perf_counter()
    r = client.request(method, path, **kw)
    return (time.perf_counter() - t) * 1000, r


def llm_plan_answer() -> str:
    return json.dumps(
        {
            "title": "Plan",
            "steps": [
                {
                    "id": "a",
                    "title": "Do it",
                    "tasks": [
                        {"id": "t1", "title": "First", "estimate_hours": 2},
                        {"id": "t2", "title": "Second", "estimate_hours": 3, "depends_on": ["t1"]},
                    ],
                }
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--llm-requests", type=int, default=100)
    parser.add_argument("--model-ms", type=float, default=200.0)
    args = parser.parse_args()

    from tests.doubles.openai_chat import FakeChatServer, Reply

    from almanac.db.embedded import start_embedded

    tmp = tempfile.TemporaryDirectory(prefix="almanac-plan-bench-")
    pg = asyncio.run(start_embedded(Path(tmp.name) / "pg", database="almanac_bench"))
    procs: list[subprocess.Popen[bytes]] = []
    chat = FakeChatServer()
    try:
        intents = asyncio.run(fill_library(pg.url, args.workflows))
        env = dict(os.environ, ALMANAC_DATA_DIR=tmp.name, ALMANAC_DATABASE_URL=pg.url)
        env.pop("ALMANAC_VALKEY_URL", None)
        env["ALMANAC_LLM__DAILY_PLANNING_CAP"] = "100000"

        proc, client = start_server(env)
        procs.append(proc)
        for intent in intents[:10]:  # warm up: vectors of the library, connection pool
            client.post("/api/v1/planner/plan", json={"intent": intent})
        plan_ms, read_ms, ids, failures = [], [], [], Counter[str]()
        for intent in intents[10 : 10 + args.requests]:
            ms, r = timed(client, "POST", "/api/v1/planner/plan", json={"intent": intent})
            if r.status_code != 201:
                failures[failure(r)] += 1
                continue
            plan_ms.append(ms)
            ids.append(r.json()["id"])
        for plan_id in ids:
            ms, r = timed(client, "GET", f"/api/v1/planner/plans/{plan_id}")
            r.raise_for_status()
            read_ms.append(ms)
        proc.terminate()
        proc.wait(30)

        chat.start()
        delay = args.model_ms / 1000
        chat.script(*[Reply(content=llm_plan_answer(), delay=delay)] * (args.llm_requests + 10))
        env_llm = dict(
            env,
            ALMANAC_LLM__PROVIDER="openai",
            ALMANAC_LLM__BASE_URL=chat.base_url,
            ALMANAC_LLM__MODEL="fake-chat",
            ALMANAC_LLM__API_KEY="sk-bench",
        )
        proc, client = start_server(env_llm)
        procs.append(proc)
        asked = llm_intents(args.llm_requests + 5)
        for intent in asked[:5]:
            client.post("/api/v1/planner/plan", json={"intent": intent})
        overhead, llm_failures = [], Counter[str]()
        for intent in asked[5:]:
            ms, r = timed(client, "POST", "/api/v1/planner/plan", json={"intent": intent})
            if r.status_code != 201 or r.json().get("source") != "llm":
                llm_failures[failure(r)] += 1
                continue
            overhead.append(ms - args.model_ms)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        chat.stop()
        pg.stop()
        tmp.cleanup()

    if not overhead:
        raise SystemExit(f"no request was planned by the LLM: {dict(llm_failures)}")
    base = median(read_ms)
    out = {
        "workflows": args.workflows,
        "plan_without_llm_ms": {"p50": median(plan_ms), "p95": percentile(plan_ms, 95)},
        "plan_without_llm_failures": sum(failures.values()),
        "baseline_pk_read_ms": {"p50": base, "p95": percentile(read_ms, 95)},
        "plan_p50_vs_baseline": median(plan_ms) / base,
        "llm_model_ms": args.model_ms,
        "llm_overhead_ms": {"p50": median(overhead), "p95": percentile(overhead, 95)},
        "llm_failures": sum(llm_failures.values()),
        "failure_reasons": {"without_llm": dict(failures), "llm": dict(llm_failures)},
        "targets": {"plan_without_llm_p95_ms": 300, "llm_overhead_ms": 100},
    }
    print_table(
        f"planning ({args.workflows} workflows)",
        ["measure", "p50 ms", "p95 ms", "target"],
        [
            ["POST /plan, no LLM", median(plan_ms), percentile(plan_ms, 95), "p95 < 300"],
            ["GET /plans/{id} (baseline)", base, percentile(read_ms, 95), ""],
            ["overhead around the LLM", median(overhead), percentile(overhead, 95), "< 100"],
        ],
    )
    print(
        f"plan p50 / baseline p50 = {out['plan_p50_vs_baseline']:.1f}x; failures "
        f"{out['plan_without_llm_failures']}, llm failures {out['llm_failures']}"
    )
    for part, reasons in out["failure_reasons"].items():
        for reason, n in reasons.items():
            print(f"  {part}: {n} x {reason}")
    print(f"wrote {write_json('planner_bench', out)}")


if __name__ == "__main__":
    main()
