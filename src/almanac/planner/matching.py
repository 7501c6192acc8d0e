"""Match an intent to the Pattern Ontology: which workflow or blueprint fits best.

Semantic similarity (the embedder's cosine) carries most of the score; the share of the
intent's content words found in the workflow's text breaks ties between near neighbours
and rescues short intents the embedding is unsure about.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from almanac.embedder import Embedder
from almanac.ontology.catalog import Candidate

if TYPE_CHECKING:
    from almanac.embedder.base import Vectors

SEMANTIC_WEIGHT = 0.75
BLUEPRINT_MARGIN = 0.05
# A keyword phrase of exactly one workflow, found whole in the intent, in any language:
# the match is at least this confident (the local embedder is English-only).
KEYWORD_SCORE = 0.7
# Without any of its keywords (or its name) in the intent, a workflow is at best a guess:
# the English embedder alone scores unrelated and foreign-language intents up to ~0.85.
GUESS_CAP = 0.6
# The intent names another cadence than the workflow's ("quarterly" vs a monthly report).
CADENCE_PENALTY = 0.2
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from i in into is it me my of on or our plan please the "
    "this to up we with need needs want set do make new next get "
    # German, French, Spanish function words (accents folded)
    "der die das den dem des ein eine einen einem einer und oder fur mit von zu zum zur im "
    "am auf aus ist sind ich wir unser unsere fuer bei nach "
    "le la les un une des du de et ou pour avec dans au aux en sur mon ma mes notre nos est "
    "el los las unos unas del al y o para con en por mi mis nuestro nuestra es que se".split()
)
CADENCES: dict[str, frozenset[str]] = {
    "daily": frozenset("daily taglich quotidien diario".split()),
    "weekly": frozenset(
        "weekly week wochentlich woche hebdomadaire semaine semanal semana".split()
    ),
    "monthly": frozenset("monthly month monatlich monat mensuel mois mensual mes".split()),
    "quarterly": frozenset(
        "quarterly quarter quartal quartals vierteljahrlich trimestriel trimestre "
        "trimestral".split()
    ),
    "annual": frozenset("annual yearly year jahrlich jahres annuel anual ano".split()),
}
# Workflow vectors keyed by (model, kind, id, updated_at): a changed row gets a new key.
_MEMO: OrderedDict[tuple[str, str, int, str], Vectors] = OrderedDict()
_MEMO_MAX = 20_000
_IDF: dict[tuple[tuple[str, int, str], ...], dict[str, float]] = {}


@dataclass(frozen=True, slots=True)
class Match:
    """A workflow or blueprint and how well it fits the intent (0..1)."""

    candidate: Candidate
    score: float
    semantic: float
    lexical: float


def fold(text: str) -> str:
    """Lower case without accents ("Übergabe" → "ubergabe", "ß" → "ss")."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def content_words(text: str) -> set[str]:
    """Lower-case words that carry meaning (stop words and 1-letter words dropped)."""
    return {w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in _STOP}


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> set[str]:
    words = [w for w in _WORD.findall(fold(text)) if len(w) > 1]
    terms = {_stem(w) for w in words if w not in _STOP}
    # "kick off" should meet "kickoff", "follow up" "follow-up".
    terms.update(_stem(a + b) for a, b in zip(words, words[1:], strict=False))
    return terms


def lexical_overlap(intent: str, text: str, idf: dict[str, float] | None = None) -> float:
    """The IDF-weighted share of the intent's content words (roughly stemmed) in `text`.

    With `idf`, a word found in many workflows ("client", "week") counts less than a rare
    one; words in no workflow count most, so an unrelated intent scores near zero.
    """
    wanted = {_stem(w) for w in content_words(intent)}
    if idf:
        # Joined pairs count only when the library uses them ("kick off" -> "kickoff").
        wanted |= {t for t in _terms(intent) - wanted if t in idf}
    if not wanted:
        return 0.0
    have = _terms(text)
    default = max(idf.values(), default=1.0) if idf else 1.0
    weight = {w: (idf or {}).get(w, default) for w in wanted}
    total = sum(weight.values())
    return sum(weight[w] for w in wanted if w in have) / total if total else 0.0


def document_frequencies(texts: Sequence[str]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term over the candidates' texts."""
    counts: dict[str, int] = {}
    for text in texts:
        for term in _terms(text):
            counts[term] = counts.get(term, 0) + 1
    n = len(texts)
    return {term: math.log((n + 1) / (c + 0.5)) for term, c in counts.items()}


async def _vectors(embedder: Embedder, candidates: Sequence[Candidate]) -> Vectors:
    import numpy as np  # loaded with the embedder's model by now

    keys = [(embedder.model, s.kind, s.id, s.updated_key) for s in candidates]
    missing = [i for i, key in enumerate(keys) if key not in _MEMO]
    if missing:
        fresh = await embedder.embed([candidates[i].text for i in missing])
        for row, i in enumerate(missing):
            _MEMO[keys[i]] = fresh[row]
        while len(_MEMO) > _MEMO_MAX:
            _MEMO.popitem(last=False)
    return (
        np.stack([_MEMO[key] for key in keys])
        if keys
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )


async def rank(
    embedder: Embedder, intent: str, candidates: Sequence[Candidate], *, limit: int = 5
) -> list[Match]:
    """The best `limit` candidates for `intent`, best first."""
    if not candidates:
        return []
    query = await embedder.embed_query(intent)
    semantic = (await _vectors(embedder, candidates)) @ query
    idf = _idf(candidates)
    hits = keyword_hits(intent, candidates)
    named = {c for c, words in CADENCES.items() if content_words(intent) & words}
    matches = []
    for candidate, cos in zip(candidates, semantic, strict=True):
        text = " ".join([candidate.text, *candidate.keywords])
        lexical = lexical_overlap(intent, text, idf)
        score = SEMANTIC_WEIGHT * float(cos) + (1 - SEMANTIC_WEIGHT) * lexical
        if candidate.kind == "workflow":
            if hits.get(candidate.id):
                score = max(score, KEYWORD_SCORE + 0.1 * lexical)
            else:
                score = min(score, GUESS_CAP)
        if candidate.cadence and named and candidate.cadence not in named:
            score -= CADENCE_PENALTY
        if candidate.kind == "blueprint":
            # A blueprint is a whole engagement of several workflows: it must fit clearly
            # better than any single workflow to be chosen over one.
            score -= BLUEPRINT_MARGIN
        matches.append(Match(candidate, round(score, 4), round(float(cos), 4), round(lexical, 4)))
    matches.sort(key=lambda m: (-m.score, m.candidate.kind != "workflow", m.candidate.id))
    return matches[:limit]


def keyword_hits(intent: str, candidates: Sequence[Candidate]) -> dict[int, int]:
    """Workflow id → how many of its distinctive phrases (its name, keywords, aliases, in
    any language) the intent contains whole.

    A phrase is distinctive when no other workflow lists it; stemming and accent folding
    let "Monatsbericht vorbereiten" meet "monatsbericht" and "rapports" "rapport".
    """
    have = _terms(intent)
    owners: dict[frozenset[str], set[int]] = {}
    for c in candidates:
        if c.kind != "workflow":
            continue
        for phrase in (c.name, *c.keywords):
            terms = frozenset(_stem(w) for w in content_words(phrase))
            if terms:
                owners.setdefault(terms, set()).add(c.id)
    hits: dict[int, int] = {}
    for terms, ids in owners.items():
        if len(ids) == 1 and terms <= have:
            (only,) = ids
            hits[only] = hits.get(only, 0) + 1
    return hits


def _idf(candidates: Sequence[Candidate]) -> dict[str, float]:
    key = tuple((s.kind, s.id, s.updated_key) for s in candidates)
    cached = _IDF.get(key)
    if cached is None:
        cached = document_frequencies([" ".join([s.text, *s.keywords]) for s in candidates])
        _IDF.clear()  # one library at a time
        _IDF[key] = cached
    return cached
