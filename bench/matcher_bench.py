"""How well intents match the starter library without an LLM: precision and recall.

Usage: .venv/bin/python bench/matcher_bench.py [--threshold 0.65]

A labelled set of intents in English, German, French and Spanish: in-library (the workflow
that should be chosen), near misses and out-of-library intents (no workflow should be
chosen confidently). The matcher is the planner's own (`planner.matching.rank`) over the
starter library's workflows and blueprints, with the local embedder. Reports, per
language and overall: in-library recall (right workflow at or above the threshold),
precision of confident matches, and confident wrong matches (the target is none). The
baseline is lexical overlap alone (the simplest strong alternative), at its best threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_json  # noqa: E402

from almanac.config import LocalEmbedderSettings, PlannerSettings  # noqa: E402
from almanac.embedder import build_embedder  # noqa: E402
from almanac.ontology.catalog import (  # noqa: E402
    Candidate,
    _keywords,
    keyword_phrases,
    match_text,
)
from almanac.ontology.library import load_library  # noqa: E402
from almanac.planner.matching import document_frequencies, lexical_overlap, rank  # noqa: E402

DISC, ONB, OFF, CAL, DIAG = (
    "Discovery call",
    "Client onboarding",
    "Client offboarding",
    "Content calendar",
    "Business diagnostic",
)
MOPS, REP, NEWS, PROP, WEEK = (
    "Marketing ops sprint",
    "Monthly client reporting",
    "Newsletter launch",
    "Proposal writing",
    "Weekly review",
)
NONE = None

# (language, intent, expected workflow or None)
INTENTS: list[tuple[str, str, str | None]] = [
    # English, in library
    ("en", "Intro call with a new prospect from LinkedIn", DISC),
    ("en", "Onboard Acme, they just signed the contract", ONB),
    ("en", "Kick off a retainer client", ONB),
    ("en", "Wrap up the Globex engagement and hand over", OFF),
    ("en", "Plan next quarter's editorial calendar", CAL),
    ("en", "Run a marketing audit for Initech", DIAG),
    ("en", "Clean up HubSpot and set up email automation", MOPS),
    ("en", "Prepare the monthly report for Acme", REP),
    ("en", "Launch a newsletter on Substack", NEWS),
    ("en", "Write a proposal for the Hooli RFP", PROP),
    ("en", "Friday weekly review and priorities", WEEK),
    ("en", "Qualification call with an inbound lead", DISC),
    ("en", "Statement of work and pricing for Umbrella", PROP),
    # German, in library
    ("de", "Erstgespräch mit einem neuen Interessenten", DISC),
    ("de", "Neuen Kunden Acme onboarden, Vertrag ist unterschrieben", ONB),
    ("de", "Projektabschluss und Übergabe an den Kunden", OFF),
    ("de", "Redaktionsplan für das nächste Quartal erstellen", CAL),
    ("de", "Marketing-Audit für Initech durchführen", DIAG),
    ("de", "CRM aufräumen und E-Mail-Automatisierung einrichten", MOPS),
    ("de", "Monatsbericht für Acme vorbereiten", REP),
    ("de", "Einen Newsletter starten", NEWS),
    ("de", "Angebot für die Ausschreibung schreiben", PROP),
    ("de", "Wochenrückblick am Freitag und Prioritäten", WEEK),
    # French, in library
    ("fr", "Appel découverte avec un nouveau prospect", DISC),
    ("fr", "Intégrer le nouveau client Acme, le contrat est signé", ONB),
    ("fr", "Clôturer la mission et faire la passation", OFF),
    ("fr", "Préparer le calendrier éditorial du trimestre", CAL),
    ("fr", "Réaliser un audit marketing pour Initech", DIAG),
    ("fr", "Nettoyer le CRM et automatiser les e-mails", MOPS),
    ("fr", "Préparer le rapport mensuel pour Acme", REP),
    ("fr", "Lancer une newsletter", NEWS),
    ("fr", "Rédiger une proposition commerciale pour l'appel d'offres", PROP),
    ("fr", "Revue hebdomadaire du vendredi et priorités", WEEK),
    # Spanish, in library
    ("es", "Llamada de descubrimiento con un nuevo prospecto", DISC),
    ("es", "Incorporar al nuevo cliente Acme, ya firmó el contrato", ONB),
    ("es", "Cerrar el proyecto y hacer el traspaso al cliente", OFF),
    ("es", "Preparar el calendario editorial del trimestre", CAL),
    ("es", "Hacer una auditoría de marketing para Initech", DIAG),
    ("es", "Limpiar el CRM y configurar automatización de correo", MOPS),
    ("es", "Preparar el informe mensual para Acme", REP),
    ("es", "Lanzar una newsletter", NEWS),
    ("es", "Redactar una propuesta para la licitación", PROP),
    ("es", "Revisión semanal del viernes y prioridades", WEEK),
    # Near misses: close words, but no workflow for this in the library
    ("en", "Keynote talk at a marketing conference", NONE),
    ("en", "Quarterly board report for investors", NONE),
    ("en", "Annual report for the tax office", NONE),
    ("en", "Call the dentist to move my appointment", NONE),
    ("en", "Review my personal budget for the month", NONE),
    ("de", "Vortrag auf einer Konferenz halten", NONE),
    ("de", "Quartalsbericht für den Vorstand", NONE),
    ("de", "Zahnarzttermin verschieben", NONE),
    ("fr", "Donner une conférence à un salon", NONE),
    ("fr", "Rapport trimestriel pour le conseil", NONE),
    ("fr", "Appeler le plombier", NONE),
    ("es", "Dar una charla en una conferencia", NONE),
    ("es", "Informe trimestral para la junta", NONE),
    ("es", "Llamar al fontanero", NONE),
    # Out of library
    ("en", "Buy groceries for the weekend", NONE),
    ("en", "Renew my passport", NONE),
    ("en", "Repaint the kitchen", NONE),
    ("en", "Train for a half marathon", NONE),
    ("en", "Fix the leaking bathroom tap", NONE),
    ("en", "Book flights to Lisbon", NONE),
    ("de", "Lebensmittel für das Wochenende einkaufen", NONE),
    ("de", "Reisepass verlängern", NONE),
    ("de", "Die Küche streichen", NONE),
    ("de", "Für einen Halbmarathon trainieren", NONE),
    ("de", "Flüge nach Lissabon buchen", NONE),
    ("fr", "Faire les courses pour le week-end", NONE),
    ("fr", "Renouveler mon passeport", NONE),
    ("fr", "Repeindre la cuisine", NONE),
    ("fr", "M'entraîner pour un semi-marathon", NONE),
    ("fr", "Réserver des vols pour Lisbonne", NONE),
    ("es", "Hacer la compra del fin de semana", NONE),
    ("es", "Renovar mi pasaporte", NONE),
    ("es", "Pintar la cocina", NONE),
    ("es", "Entrenar para una media maratón", NONE),
    ("es", "Reservar vuelos a Lisboa", NONE),
    # More English in-library phrasings
    ("en", "Set up the new client's accounts and welcome pack", ONB),
    ("en", "Health check of Acme's marketing with a roadmap", DIAG),
    ("en", "Grow our email list with a newsletter", NEWS),
    ("en", "Month-end KPI report for the retainer", REP),
    ("en", "Plan LinkedIn and blog posts for the quarter", CAL),
]


def candidates() -> list[Candidate]:
    """The starter library as the planner sees it (same match text as from the database)."""
    lib = load_library()
    out = []
    ids: dict[str, int] = {}
    for n, (_, wf) in enumerate(lib.workflows, start=1):
        steps = [s.model_dump(mode="json") for s in wf.steps]
        text = match_text(wf.name, wf.capability, wf.metadata, steps)
        cadence = wf.metadata.get("cadence")
        out.append(
            Candidate(
                "workflow", n, wf.name, text, "lib", (n,), keyword_phrases(wf.metadata), cadence
            )
        )
        ids[wf.name] = n
    for m, (_, bp) in enumerate(lib.blueprints, start=1000):
        text = " ".join(filter(None, [bp.name, bp.description, _keywords(bp.metadata)]))
        wf_ids = tuple(ids[r.name] for r in bp.refs() if r.name in ids)
        out.append(Candidate("blueprint", m, bp.name, text, "lib", wf_ids))
    return out


def score(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    by_lang: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        stats = by_lang[r["lang"]]
        confident = r["score"] >= threshold
        right = r["best"] == r["expected"]
        if r["expected"] is not None:
            stats["in_library"] += 1
            stats["matched"] += int(confident and right)
        if confident:
            stats["confident"] += 1
            stats["confident_right"] += int(right)
            stats["confident_wrong"] += int(not right)
    out: dict[str, Any] = {}
    for lang, s in sorted(by_lang.items()):
        out[lang] = {
            "recall": s["matched"] / s["in_library"] if s["in_library"] else None,
            "precision": s["confident_right"] / s["confident"] if s["confident"] else None,
            "confident_wrong": s["confident_wrong"],
            "in_library": s["in_library"],
        }
    total = {k: sum(v[k] for v in by_lang.values()) for k in ("matched", "in_library")}
    conf = sum(v["confident"] for v in by_lang.values())
    right = sum(v["confident_right"] for v in by_lang.values())
    out["all"] = {
        "recall": total["matched"] / total["in_library"],
        "precision": right / conf if conf else None,
        "confident_wrong": conf - right,
        "in_library": total["in_library"],
    }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=PlannerSettings().match_threshold)
    args = parser.parse_args()
    embedder = build_embedder(LocalEmbedderSettings())
    pool = candidates()
    idf = document_frequencies([" ".join([c.text, *c.keywords]) for c in pool])
    rows, lexical_rows = [], []
    for lang, intent, expected in INTENTS:
        top = (await rank(embedder, intent, pool, limit=3))[0]
        best = top.candidate.name if top.candidate.kind == "workflow" else f"[{top.candidate.name}]"
        rows.append(
            {"lang": lang, "intent": intent, "expected": expected, "best": best, "score": top.score}
        )

        def lexical(c: Candidate, intent: str = intent) -> float:
            return lexical_overlap(intent, " ".join([c.text, *c.keywords]), idf)

        lex = max(pool, key=lexical)
        lexical_rows.append(
            {
                "lang": lang,
                "intent": intent,
                "expected": expected,
                "best": lex.name,
                "score": lexical(lex),
            }
        )
    await embedder.close()
    ours = score(rows, args.threshold)
    baseline_threshold = max(
        (t / 100 for t in range(5, 100, 5)),
        key=lambda t: (
            -score(lexical_rows, t)["all"]["confident_wrong"],
            score(lexical_rows, t)["all"]["recall"],
        ),
    )
    base = score(lexical_rows, baseline_threshold)
    table = []
    for lang in ("en", "de", "fr", "es", "all"):
        o, b = ours[lang], base[lang]
        table.append(
            [
                lang,
                o["in_library"],
                f"{o['recall']:.0%}",
                "-" if o["precision"] is None else f"{o['precision']:.0%}",
                o["confident_wrong"],
                f"{b['recall']:.0%}",
                b["confident_wrong"],
            ]
        )
    print_table(
        f"matcher at threshold {args.threshold} on {len(INTENTS)} intents "
        f"(baseline: lexical only at {baseline_threshold:.2f})",
        [
            "lang",
            "in library",
            "recall",
            "precision",
            "confident wrong",
            "lexical recall",
            "lexical wrong",
        ],
        table,
    )
    wrong = [r for r in rows if r["score"] >= args.threshold and r["best"] != r["expected"]]
    missed = [
        r
        for r in rows
        if r["expected"] and not (r["score"] >= args.threshold and r["best"] == r["expected"])
    ]
    for r in wrong:
        print(f"confident wrong: {r['intent']!r} -> {r['best']} ({r['score']:.2f})")
    for r in missed:
        print(f"missed: {r['intent']!r} -> {r['best']} ({r['score']:.2f}), want {r['expected']}")
    path = write_json(
        "matcher_bench",
        {
            "threshold": args.threshold,
            "intents": len(INTENTS),
            "ours": ours,
            "baseline": {"name": "lexical overlap", "threshold": baseline_threshold, **base},
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
