"""Which entities a memory names, and which a query names: deterministic, no LLM.

A memory names an entity as its speaker ("Priya: sent the invoice", the transcript
convention) or by a run of capitalised words inside a sentence ("...for Acme Corp").
A capitalised word that only starts a sentence ("Thanks, ...", "Pottery is...") is
ambiguous: it is kept (`initial`) only where the entity is already known from a clear
mention. Names are matched case-insensitively and without a possessive "'s", so
"Melanie's" and "MELANIE" are the same entity; no aliasing beyond that ("Mel").

A query names an entity when a run of its words (1-4) is the name of a known entity node:
the query's capitalisation does not matter, because only names already seen in memories
count. A capitalised word inside the query may also be a short form ("Mel") of a known
one-word name ("Melanie"): `alias_words` lists those words, and the lookup
(memory.entity_links) keeps a short form only when it fits exactly one name.
"""

from __future__ import annotations

import re

SPEAKER = "speaker"
MENTION = "mention"
INITIAL = "initial"

MAX_NAME_WORDS = 4
MAX_NAME_CHARS = 120
# A memory links to at most this many entities (a pasted table of names is not 10,000).
MAX_PER_MEMORY = 50
# A node id is `entity:<name>`, within graph_nodes.node_id's 255 characters.
NODE_PREFIX = "entity:"

_SPEAKER = re.compile(r"^\s*([A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,3}):\s")
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*|[^\w\s]+")
_BRACKETED = re.compile(r"\[[^\]]*\]")
_SENTENCE_END = frozenset('.!?:;"“”(')
_POSSESSIVE = re.compile(r"['’]s$")

# Words English capitalises for grammar, not because they name something.
_FUNCTION_WORDS = frozenset(
    """
    i i'm i've i'd i'll a an the and or but so if of in on at to for by with from as
    my our your his her their its it it's this that these those here there he she we they
    you me him us them hey hi hello thanks thank yeah yes no oh wow ok okay sure well just
    also what when where who why how which
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu fri sat sun
    january february march april may june july august september october november december
    """.split()
)


def normalise(word: str) -> str:
    return _POSSESSIVE.sub("", word).strip("'’-").lower()


def node_id(name: str) -> str:
    return NODE_PREFIX + name


def extract(text: str) -> dict[str, str]:
    """The entity names a memory holds, each with its strongest role."""
    found: dict[str, str] = {}

    def add(name: str, role: str) -> None:
        if len(name) < 2 or len(name) > MAX_NAME_CHARS:
            return
        if name not in found and len(found) >= MAX_PER_MEMORY:
            return
        order = (SPEAKER, MENTION, INITIAL)
        if name not in found or order.index(role) < order.index(found[name]):
            found[name] = role

    body = text
    speaker = _SPEAKER.match(text)
    if speaker:
        add(" ".join(normalise(w) for w in speaker.group(1).split()), SPEAKER)
        body = text[speaker.end() :]
    body = _BRACKETED.sub(" . ", body)  # an attachment's caption is not the speaker's prose

    run: list[str] = []
    run_starts_sentence = False
    at_start = True

    def flush() -> None:
        if not run:
            return
        if run_starts_sentence:
            # "Congrats Caroline", "Pottery Class": the first word may be grammar's capital,
            # so the run and its tail are names only if confirmed elsewhere.
            add(" ".join(run[:MAX_NAME_WORDS]), INITIAL)
            if len(run) > 1:
                add(" ".join(run[1 : 1 + MAX_NAME_WORDS]), INITIAL)
        else:
            add(" ".join(run[:MAX_NAME_WORDS]), MENTION)
        run.clear()

    for token in _TOKEN.findall(body):
        if token[0].isalpha():
            word = normalise(token)
            if token[0].isupper() and word and word not in _FUNCTION_WORDS:
                if not run:
                    run_starts_sentence = at_start
                run.append(word)
            else:
                flush()
            at_start = False
        else:
            flush()
            if any(c in _SENTENCE_END for c in token):
                at_start = True
    flush()
    return found


def resolve(found: list[dict[str, str]], known: set[str]) -> list[dict[str, str]]:
    """Drop sentence-initial-only names that no clear mention (here or before) confirms."""
    confirmed = known | {name for names in found for name, role in names.items() if role != INITIAL}
    return [
        {name: role for name, role in names.items() if role != INITIAL or name in confirmed}
        for names in found
    ]


def query_names(query: str) -> list[str]:
    """Every run of 1-4 words of a query, normalised: the candidates for entity names."""
    words = [normalise(w) for w in _TOKEN.findall(query) if w[0].isalpha()]
    words = [w for w in words if w]
    out: dict[str, None] = {}
    for size in range(1, MAX_NAME_WORDS + 1):
        for start in range(len(words) - size + 1):
            name = " ".join(words[start : start + size])
            if len(name) >= 2:
                out[name] = None
    return list(out)[:200]


# A query's short forms: at most this many words, each at least this long.
MAX_ALIAS_WORDS = 5
MIN_ALIAS_CHARS = 3


def alias_words(query: str) -> list[str]:
    """The query's capitalised words, not the first of a sentence, that may be short forms
    of a name ("Mel" for "Melanie"), normalised; at most MAX_ALIAS_WORDS."""
    out: dict[str, None] = {}
    at_start = True
    for token in _TOKEN.findall(query):
        if not token[0].isalpha():
            if any(c in _SENTENCE_END for c in token):
                at_start = True
            continue
        word = normalise(token)
        if (
            not at_start
            and token[0].isupper()
            and len(word) >= MIN_ALIAS_CHARS
            and word.isalpha()
            and word not in _FUNCTION_WORDS
        ):
            out[word] = None
        at_start = False
    return list(out)[:MAX_ALIAS_WORDS]
