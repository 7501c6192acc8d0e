"""The whole LLM path against a real OpenAI-compatible server: latency, tokens, verdicts.

Usage: .venv/bin/python bench/llm_path.py URL [--model NAME] [--api-key KEY]
           [--planning-budget 25] [--repeat 1] [--intents N]
           [--output-mode auto|json_schema|json_object|text] [--name llm_path]

URL is the server's base (e.g. http://127.0.0.1:8080/v1). On a fresh embedded Postgres,
in-process through the public API, with the starter library imported: plans for a set of
intents (most match a library workflow, two match nothing), one plan approved so a day has
tasks, two salient memories whose facts are extracted, then a daily and a weekly reflection.
Every LLM call is read back from `llm_calls` and printed: latency, tokens (estimated ones
marked ~), how JSON was asked for, and whether the answer was accepted or why it was
rejected. The same intents are planned with no LLM in the same run: the library-only
baseline, for the latency ratio.

Targets: every plan request answers within its budget (p95 of the request's wall time
under the planning budget plus 5 s for recall and storage), and nothing rejected is stored
as the LLM's work: each stored plan with `source: llm` and each stored narrative is judged
again here by checks written independently of the planner's judge.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, percentile, print_table, write_json  # noqa: E402

from almanac.app import create_app  # noqa: E402
from almanac.auth.deps import authenticate  # noqa: E402
from almanac.cli.runtime import LOCAL_OWNER  # noqa: E402
from almanac.config import OpenAILLMSettings, Settings  # noqa: E402
from almanac.deps import get_state  # noqa: E402
from almanac.state import AppState, build_state  # noqa: E402

INTENTS = [
    "Launch an email newsletter for Acme",
    "Onboard a new client called Bloom Bakery",
    "Monthly client reporting for Acme",
    "Write a proposal for a website redesign",
    "Run a business diagnostic for a dental practice",
    "Plan a content calendar for the next quarter",
    "Repaint the garden shed in dark green",  # nothing in the library
    "Organise a team offsite in Lisbon",  # nothing in the library
]
MEMORIES = [
    "Acme's finance team wants invoices by the 5th of each month, in EUR.",
    "Bloom Bakery prefers calls on Tuesday mornings and never on Fridays.",
]
_WORD = re.compile(r"[a-z0-9]+")


def client_for(state: AppState, timeout: float) -> httpx.AsyncClient:
    app = create_app(state=state)
    app.dependency_overrides[get_state] = lambda: state
    # In-process, like the CLI: the bench opened the database itself and acts as the owner.
    app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=timeout
    )


def independent_plan_check(plan: dict[str, Any]) -> list[str]:
    """A second opinion on a stored LLM plan, not sharing code with planner/judge.py."""
    problems = []
    tasks = [t for s in plan["sop"]["steps"] for t in s["tasks"]]
    titles = [" ".join(_WORD.findall(t["title"].lower())) for t in tasks]
    if len(set(titles)) != len(titles):
        problems.append("duplicate task titles")
    intent = " ".join(_WORD.findall(plan["intent"].lower()))
    if any(t == intent for t in titles):
        problems.append("a task is the intent")
    if plan.get("workflow_id") and len(tasks) < 2:
        problems.append("a library workflow collapsed to one task")
    return problems


def independent_narrative_check(narrative: str, report: dict[str, Any]) -> list[str]:
    """Figures in the narrative that appear nowhere in the report's JSON text."""
    blob = repr(report)
    figures = re.findall(r"\d+(?:\.\d+)+|\d{2,}", narrative)
    bad = [f for f in figures if f not in blob and f.rstrip("0").rstrip(".") not in blob]
    sentences = [s.strip().lower() for s in re.split(r"[.!?]\s+", narrative) if len(s) > 12]
    out = [f"figure {f} not in the report" for f in bad[:3]]
    if len(set(sentences)) < len(sentences):
        out.append("a repeated sentence")
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="almanac-llm-path-")
    llm = OpenAILLMSettings(
        base_url=args.url,
        model=args.model,
        api_key=args.api_key,
        daily_planning_cap=10_000,
        output_mode=args.output_mode,
    )
    llm.budget_seconds["planning"] = args.planning_budget
    settings = Settings(data_dir=Path(tmp.name), llm=llm, _env_file=None)  # type: ignore[call-arg]
    settings.memory.extract_facts = False  # extraction is called directly below
    state = await build_state(settings)
    plain = replace(state, llm=None)
    timeout = args.planning_budget + 120
    plans: list[dict[str, Any]] = []
    baseline: list[float] = []
    try:
        async with client_for(state, timeout) as api, client_for(plain, timeout) as lib:
            r = await api.post("/api/v1/planner/workflows/import")
            r.raise_for_status()
            for _ in range(args.repeat):
                for intent in INTENTS[: args.intents]:
                    started = time.perf_counter()
                    r = await lib.post("/api/v1/planner/plan", json={"intent": intent})
                    if r.status_code == 201:
                        baseline.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    r = await api.post("/api/v1/planner/plan", json={"intent": intent})
                    seconds = time.perf_counter() - started
                    body = r.json()
                    plans.append(
                        {
                            "intent": intent,
                            "status": r.status_code,
                            "seconds": round(seconds, 2),
                            "source": body.get("source"),
                            "detail": (body.get("llm") or {}).get("detail") or body.get("detail"),
                            "independent": independent_plan_check(body)
                            if body.get("source") == "llm"
                            else [],
                        }
                    )
                    print(f"plan {r.status_code} {seconds:6.1f}s {intent}", file=sys.stderr)
            approved = next((p for p in plans if p["status"] == 201), None)
            if approved is not None:
                listed = (await api.get("/api/v1/planner/plans", params={"limit": 1})).json()
                if listed["items"]:
                    await api.post(f"/api/v1/planner/plans/{listed['items'][0]['id']}/approve")
            for content in MEMORIES:
                r = await api.post(
                    "/api/v1/memory/remember",
                    json={"content": content, "salience_score": 0.9, "memory_scope": "user"},
                )
                event_id = r.json()["id"]
                r = await api.post("/api/v1/observer/extract-facts", params={"event_id": event_id})
                print(f"extract {r.status_code} event {event_id}", file=sys.stderr)
            narratives = []
            for mode in ("daily", "weekly"):
                r = await api.post("/api/v1/observer/reflect", params={"mode": mode})
                body = r.json()
                narratives.append(
                    {
                        "mode": mode,
                        "status": r.status_code,
                        "used": (body.get("llm") or {}).get("used"),
                        "detail": (body.get("llm") or {}).get("detail"),
                        "independent": independent_narrative_check(
                            body.get("narrative") or "", body.get("report") or {}
                        )
                        if body.get("narrative")
                        else [],
                    }
                )
                print(f"reflect {mode} {r.status_code}", file=sys.stderr)
        async with state.sessionmaker() as session:
            from sqlalchemy import select

            from almanac.models import LLMCall

            calls = [
                {
                    "operation": c.operation,
                    "latency_s": round(c.latency_ms / 1000, 2),
                    "tokens_in": c.tokens_in,
                    "tokens_out": c.tokens_out,
                    "estimated": c.tokens_estimated,
                    "mode": c.output_mode,
                    "attempts": c.attempts,
                    "outcome": c.outcome,
                    "why": "; ".join(c.rejection or []) or (c.error or ""),
                }
                for c in (await session.scalars(select(LLMCall).order_by(LLMCall.id))).all()
            ]
    finally:
        await state.close()
        tmp.cleanup()
    return {"plans": plans, "baseline": baseline, "narratives": narratives, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--model", default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--planning-budget", type=float, default=25.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--intents", type=int, default=len(INTENTS), help="plan only the first N")
    parser.add_argument(
        "--output-mode", default="auto", choices=["auto", "json_schema", "json_object", "text"]
    )
    parser.add_argument("--name", default="llm_path")
    args = parser.parse_args()
    if args.model is None:
        models = httpx.get(args.url.rstrip("/") + "/models", timeout=10).json()["data"]
        args.model = models[0]["id"]
    out = asyncio.run(run(args))
    calls, plans = out["calls"], out["plans"]
    print_table(
        f"LLM calls against {args.url} ({args.model})",
        ["#", "operation", "latency s", "tok in", "tok out", "mode", "tries", "outcome", "why"],
        [
            [
                i + 1,
                c["operation"],
                c["latency_s"],
                c["tokens_in"],
                ("~" if c["estimated"] else "") + str(c["tokens_out"]),
                c["mode"] or "",
                c["attempts"],
                c["outcome"],
                c["why"][:90],
            ]
            for i, c in enumerate(calls)
        ],
    )
    print_table(
        "plan requests",
        ["intent", "status", "seconds", "source", "detail", "independent check"],
        [
            [
                p["intent"][:40],
                p["status"],
                p["seconds"],
                p["source"] or "",
                (p["detail"] or "")[:80],
                "; ".join(p["independent"]) or "ok",
            ]
            for p in plans
        ],
    )
    seconds = [p["seconds"] for p in plans]
    p95 = percentile(seconds, 95)
    base = median(out["baseline"])
    limit = args.planning_budget + 5
    stored_nonsense = sum(1 for p in plans if p["independent"]) + sum(
        1 for n in out["narratives"] if n["used"] and n["independent"]
    )
    accepted = sum(1 for c in calls if c["outcome"] in ("ok", "repaired"))
    summary = {
        "plan_requests": len(plans),
        "plan_seconds_median": median(seconds),
        "plan_seconds_p95": p95,
        "library_only_seconds_median": base,
        "ratio_median_to_library_only": median(seconds) / base if base else None,
        "within_budget_p95": p95 <= limit,
        "llm_calls": len(calls),
        "accepted": accepted,
        "rejected": sum(1 for c in calls if c["outcome"] == "rejected"),
        "invalid": sum(1 for c in calls if c["outcome"] == "invalid"),
        "timeouts": sum(1 for c in calls if c["outcome"] == "timeout"),
        "plans_from_llm": sum(1 for p in plans if p["source"] == "llm"),
        "narratives_used": sum(1 for n in out["narratives"] if n["used"]),
        "stored_nonsense": stored_nonsense,
    }
    print_table("summary", ["measure", "value"], [[k, v] for k, v in summary.items()])
    path = write_json(args.name, {"url": args.url, "model": args.model, **out, **summary})
    print(f"wrote {path}")
    print(
        f"p95 plan {p95:.1f}s vs budget {args.planning_budget:g}s (+5s): "
        f"{'PASS' if summary['within_budget_p95'] else 'FAIL'}; "
        f"stored nonsense: {stored_nonsense} ({'PASS' if stored_nonsense == 0 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
