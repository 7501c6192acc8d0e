"""Recall's author signal: a query that names a person also ranks what that person said,
as one more list in the fusion.

In a personal memory what someone says is about them: "Caroline: I went to a support
group yesterday" answers "What did Caroline do?" without naming her anywhere a word or an
embedding of the sentence could match. Remember links each memory to its author (the
transcript's speaker, role `speaker`) and to the client it belongs to (role `subject`,
`client:<id>`; a query cannot name a client yet, since Almanac holds no client names, so
today the speakers are what counts). Recall then takes its candidates -- the first pass,
the graph's memories, reranked -- keeps those whose author or subject is an entity the
query names, and adds each one's reciprocal rank in that list (in the candidates' own
order) with the weight `author_weight`, like every other list. Only candidates recall
already found under its own filter can gain, so the signal cannot reach another client's
memories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from almanac.config import SearchSettings
from almanac.memory.search import Hit


def fuse_members(hits: Sequence[Hit], members: set[int], s: SearchSettings) -> list[Hit]:
    """Each hit in `members` gains author_weight/(rrf_k + its rank among them), best first."""
    out: list[Hit] = []
    rank = 0
    for h in hits:
        if h.id in members:
            rank += 1
            gain = s.author_weight / (s.rrf_k + rank)
            out.append(replace(h, rrf=h.rrf + gain, score=h.score + gain * h.boost))
        else:
            out.append(h)
    out.sort(key=lambda h: (h.score, h.id), reverse=True)
    return out
