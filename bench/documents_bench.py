"""Document recall and ingestion: Almanac's hybrid chunk recall against BM25 alone.

Usage: .venv/bin/python bench/documents_bench.py [--clients 12] [--seed 7]

The corpus is written here, from templates with per-client facts: for each client a
proposal (Markdown: scope, pricing, timeline, team), meeting notes (HTML: attendees,
decisions, next steps) and a two-page contract (PDF); plus shared SOPs. Every question is
phrased unlike its answer and names the client; its gold passage is the chunk that holds
the fact. All documents go through the real HTTP API (in-process ASGI, embedded Postgres).
Reported: recall@5 of gold chunks for Almanac and for Okapi BM25 over the very same chunk
texts in the same run, by question type, and ingestion throughput in pages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fpdf import FPDF

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, percentile, print_table, write_json  # noqa: E402
from memory_recall import BM25  # noqa: E402

from almanac.app import create_app  # noqa: E402
from almanac.auth.deps import authenticate  # noqa: E402
from almanac.cli.runtime import LOCAL_OWNER  # noqa: E402
from almanac.config import Settings  # noqa: E402
from almanac.deps import get_state  # noqa: E402
from almanac.memory.documents.extract import extract  # noqa: E402
from almanac.memory.documents.service import _READER as READER  # noqa: E402
from almanac.state import build_state  # noqa: E402

CLIENTS = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Pied Piper",
    "Vandelay Imports",
    "Soylent Labs",
    "Tyrell Studio",
    "Cyberdyne",
    "Gringotts Finance",
    "Oscorp",
    "Wonka Sweets",
    "Duff Brewing",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "September", "October"]
CHANNELS = ["LinkedIn", "the newsletter", "paid search", "webinars", "podcasts", "trade shows"]
PEOPLE = ["Priya", "Marco", "Aiko", "Lena", "Tomás", "Grace", "Noor", "Felix", "Ines", "Omar"]
TOOLS = ["HubSpot", "Salesforce", "Pipedrive", "Mailchimp", "Airtable", "Notion"]


@dataclass
class Question:
    text: str
    gold: str  # a string only the gold chunk contains
    kind: str


def _pdf(pages: list[str], title: str) -> bytes:
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def corpus(n: int, seed: int) -> tuple[list[tuple[str, bytes, int | None]], list[Question]]:
    """(file name, bytes, client id) for every document, and the labelled questions."""
    rng = random.Random(seed)
    files: list[tuple[str, bytes, int | None]] = []
    questions: list[Question] = []
    filler = (
        "We work in short cycles and review progress with your team every week. "
        "Each deliverable is discussed before it is final, and changes are agreed in writing."
    )
    for cid, name in enumerate(CLIENTS[:n], start=1):
        fee = rng.randrange(80, 400) * 100
        weeks = rng.randrange(4, 20)
        month = rng.choice(MONTHS)
        day = rng.randrange(2, 28)
        channel = rng.choice(CHANNELS)
        lead, sponsor = rng.sample(PEOPLE, 2)
        tool = rng.choice(TOOLS)
        notice = rng.choice([14, 30, 45, 60, 90])
        proposal = f"""# Proposal for {name}

{filler}

## Scope

The engagement audits the marketing funnel and rebuilds reporting in {tool}.
{filler}

## Pricing

The fixed fee is {fee:,} euros for {weeks} weeks, invoiced monthly in arrears.

## Timeline

Work starts on {day} {month}. The audit report is delivered in week two.
{filler}

## Team

{lead} leads the work; {sponsor} is the sponsor on the client side.
"""
        files.append((f"proposal-{cid}.md", proposal.encode(), cid))
        questions += [
            Question(f"How much will {name} pay us for the project?", f"{fee:,} euros", "fact"),
            Question(f"When do we kick off with {name}?", f"starts on {day} {month}", "fact"),
            Question(
                f"Who is the executive sponsor at {name}?", f"{sponsor} is the sponsor", "fact"
            ),
            Question(
                f"Which CRM will {name}'s dashboards live in?", f"reporting in {tool}", "fact"
            ),
        ]
        decision = f"shift budget from {channel} to referrals"
        notes = f"""<html><head><title>{name} steering meeting</title></head><body>
<h1>{name} steering meeting</h1>
<h2>Attendees</h2><p>{lead}, {sponsor} and the consultant.</p>
<h2>Decisions</h2><p>The group agreed to {decision} from next quarter.</p>
<p>{filler}</p>
<h2>Next steps</h2><p>{lead} drafts the revised plan by Friday.</p>
</body></html>"""
        files.append((f"notes-{cid}.html", notes.encode(), cid))
        questions.append(
            Question(
                f"What did the {name} meeting decide about marketing spend?", decision, "decision"
            )
        )
        contract = _pdf(
            [
                f"Services agreement between the consultant and {name}. " + filler * 3,
                f"Termination. Either party may end this agreement with {notice} days written "
                f"notice. " + filler,
            ],
            f"Contract {name}",
        )
        files.append((f"contract-{cid}.pdf", contract, cid))
        questions.append(
            Question(
                f"How long is the notice period to cancel the {name} agreement?",
                f"{notice} days written notice",
                "pdf",
            )
        )
    sops = {
        "Client onboarding SOP": [
            ("Access", "Request admin access to analytics and the CRM on day one."),
            ("Kick-off", "Send the kick-off agenda two days ahead and record decisions."),
        ],
        "Monthly reporting SOP": [
            ("Data pull", "Export campaign data on the first working day of the month."),
            ("Review", "Walk the client through the dashboard in a thirty minute call."),
        ],
        "Offboarding SOP": [
            ("Handover", "Transfer ownership of every document and revoke our access."),
        ],
    }
    for title, sections in sops.items():
        body = f"# {title}\n\n" + "\n\n".join(f"## {h}\n\n{t}\n\n{filler}" for h, t in sections)
        files.append((title.lower().replace(" ", "-") + ".md", body.encode(), None))
    questions += [
        Question(
            "What is the first thing to ask for when a new client signs?", "admin access", "sop"
        ),
        Question("When do we export campaign numbers each month?", "first working day", "sop"),
        Question(
            "What must happen to our logins when an engagement ends?", "revoke our access", "sop"
        ),
    ]
    return files, questions


async def run(n_clients: int, seed: int) -> dict[str, Any]:
    files, questions = corpus(n_clients, seed)
    with tempfile.TemporaryDirectory(prefix="almanac-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        state = await build_state(settings)
        try:
            app = create_app(state=state)
            app.dependency_overrides[get_state] = lambda: state
            # In-process, as the CLI: recall and ingestion are measured, not authentication
            # (auth_bench.py); without it every upload is a 401 since API keys exist.
            app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
                # The document reader's process starts on the first PDF or HTML file, once
                # per server; timed apart, since spawning it imports this script again (a
                # server's own main module is the light CLI).
                t_start = time.perf_counter()
                warm = partial(extract, max_pages=1)
                await READER.run(warm, b"<p>warm</p>", "text/html", budget=60.0, grace=5.0)
                reader_start_s = time.perf_counter() - t_start
                pages = 0
                t0 = time.perf_counter()
                for name, data, cid in files:
                    form = {"client_id": str(cid)} if cid else {}
                    r = await c.post(
                        "/api/v1/memory/documents", files={"file": (name, data)}, data=form
                    )
                    r.raise_for_status()
                    pages += int(r.json()["pages"])
                ingest_s = time.perf_counter() - t0
                # The same chunk texts for BM25: what recall can see (title, heading, content).
                chunks: list[dict[str, Any]] = []
                listed = (await c.get("/api/v1/memory/documents", params={"limit": 200})).json()
                for d in listed["items"]:
                    detail = (await c.get(f"/api/v1/memory/documents/{d['id']}")).json()
                    for ch in detail["chunk_list"]:
                        text = " ".join(
                            x for x in (detail["title"], ch["heading"], ch["content"]) if x
                        )
                        chunks.append({"text": text, "content": ch["content"]})
                ranked_almanac: list[list[str]] = []
                latencies: list[float] = []
                for q in questions:
                    t1 = time.perf_counter()
                    r = await c.get(
                        "/api/v1/memory/recall",
                        params={"query": q.text, "k": 5, "kinds": "document"},
                    )
                    latencies.append((time.perf_counter() - t1) * 1000)
                    ranked_almanac.append([h["content"] for h in r.json()["results"]])
        finally:
            await state.close()
    bm25 = BM25([ch["text"] for ch in chunks])
    ranked_bm25 = [[chunks[j]["content"] for j in bm25.rank(q.text, 5)] for q in questions]

    def recall_at_5(ranked: list[list[str]]) -> dict[str, float]:
        by_kind: dict[str, list[float]] = defaultdict(list)
        for q, hits in zip(questions, ranked, strict=True):
            found = float(any(q.gold in h for h in hits[:5]))
            by_kind[q.kind].append(found)
            by_kind["all"].append(found)
        return {k: sum(v) / len(v) for k, v in by_kind.items()}

    return {
        "clients": n_clients,
        "seed": seed,
        "documents": len(files),
        "pages": pages,
        "chunks": len(chunks),
        "questions": len(questions),
        "ingest_seconds": round(ingest_s, 3),
        "reader_start_seconds": round(reader_start_s, 3),
        "pages_per_second": round(pages / ingest_s, 2),
        "recall_latency_ms": {"p50": median(latencies), "p95": percentile(latencies, 95)},
        "recall@5": {"almanac": recall_at_5(ranked_almanac), "bm25": recall_at_5(ranked_bm25)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args.clients, args.seed))
    r5 = result["recall@5"]
    counts = defaultdict(int)
    for q in corpus(args.clients, args.seed)[1]:
        counts[q.kind] += 1
        counts["all"] += 1
    rows = [
        (kind, counts[kind], a, r5["bm25"][kind], a / r5["bm25"][kind] if r5["bm25"][kind] else "-")
        for kind, a in r5["almanac"].items()
    ]
    print_table(
        f"Documents: {result['documents']} files, {result['pages']} pages, "
        f"{result['chunks']} chunks, {result['questions']} questions",
        ["questions", "n", "Almanac R@5", "BM25 R@5", "Almanac / BM25"],
        rows,
    )
    lat = result["recall_latency_ms"]
    print(
        f"ingestion {result['pages_per_second']:.1f} pages/s ({result['ingest_seconds']:.1f} s, "
        f"after {result['reader_start_seconds']:.1f} s starting the reader process); "
        f"recall p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms (in-process HTTP)"
    )
    print(f"wrote {write_json('documents', result)}")


if __name__ == "__main__":
    main()
