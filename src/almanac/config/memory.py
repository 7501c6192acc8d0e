"""The Memory Gateway's sections: recall's weights and signals, and remember's bounds
(split from the package's `__init__`, where `Settings` gathers them)."""

from __future__ import annotations

from pydantic import Field

from .checks import Section


class SearchSettings(Section):
    """Weights of the hybrid recall (reciprocal rank fusion plus signals)."""

    rrf_k: int = Field(default=60, ge=1)
    vector_weight: float = Field(default=1.0, ge=0)
    text_weight: float = Field(default=1.0, ge=0)
    # Multiplicative boosts: score *= 1 + weight * signal, both signals in [0, 1].
    salience_weight: float = Field(default=0.1, ge=0)
    recency_weight: float = Field(default=0.05, ge=0)
    recency_half_life_days: float = Field(default=30.0, gt=0, le=36_500)
    candidates: int = Field(default=100, ge=1, le=2000)
    bm25_k1: float = Field(default=1.2, ge=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)
    # A word found in more than this share of memories does not select candidates by itself.
    common_term_share: float = Field(default=0.05, gt=0, le=1)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    # The relevance floor (memory.relevance): a hit counts as relevant when it holds this
    # IDF-weighted share of the query's words, or when its cosine reaches the similarity
    # (model-specific: 0.92 suits the packaged local embedder); see memory.relevance.
    # Off: recall never floors.
    relevance_floor: bool = True
    floor_coverage: float = Field(default=0.2, gt=0, le=1)
    floor_similarity: float = Field(default=0.92, gt=-1, lt=1)
    # ...or when its cosine exceeds the next-nearest memory's by this much.
    floor_margin: float = Field(default=0.08, gt=0, le=1)
    # A filter (client, session, dates...) that leaves at most this many rows is searched
    # exactly over them: a filtered HNSW walk visits about candidates/selectivity nodes
    # (~2,000 for one client in twenty), several times the cost of scanning the few rows.
    exact_scan_rows: int = Field(default=10_000, ge=0, le=1_000_000)
    # Late interaction (memory.rerank): the first pass's best this-many hits per kind are
    # scored by MaxSim over the embedder's token vectors, fused as a third ranked list with
    # this weight (0: off). 50, not 100: at 100,000 memories 100 candidates put one
    # client's recall p95 just over the 50 ms budget for +0.006 recall@10 (bench/recall_cost.py).
    rerank_candidates: int = Field(default=50, ge=1, le=500)
    rerank_weight: float = Field(default=1.0, ge=0)
    # The graph signal (memory.graph_signal): memories linked to the entities a query names,
    # and to their neighbours found in the best `graph_seed_hits` hits, fused with these
    # weights; an entity linked to more than `entity_share` of memories (or more than
    # `entity_max_links`) is a hub and is not used.
    graph_weight: float = Field(default=1.0, ge=0)
    graph_neighbour_weight: float = Field(default=0.5, ge=0)
    graph_seed_hits: int = Field(default=10, ge=1, le=100)
    entity_share: float = Field(default=0.05, gt=0, le=1)
    entity_max_links: int = Field(default=200, ge=1, le=10_000)
    # The author signal (memory.author_signal): candidates said by, or about, an entity the
    # query names, fused as one more list with this weight (0: off); chosen up front as
    # half a retriever's, like the graph's neighbours.
    author_weight: float = Field(default=0.5, ge=0)
    # A capitalised query word may be a short form of one known name ("Mel": "Melanie").
    entity_aliases: bool = True
    # Maximal marginal relevance (memory.diversity) picks the k results among the best
    # `diversity_candidates`; lambda set up front at the usual 0.7 (1: off).
    diversity_lambda: float = Field(default=0.7, ge=0, le=1)
    diversity_candidates: int = Field(default=30, ge=1, le=200)
    # The episode signal (memory.episodes): candidates from the episodes (a session's day)
    # holding the best candidates gain, as one more list with a retriever's weight (0: off).
    episode_weight: float = Field(default=1.0, ge=0)


class MemorySettings(Section):
    """Memory Gateway behaviour."""

    promotion_threshold: float = Field(default=0.7, ge=0, le=1)
    max_batch_items: int = Field(default=1000, ge=1)
    # With an LLM, salient memories that name no subject are queued for fact extraction.
    extract_facts: bool = True
    # Link each new memory to the entities it names (memory.entities) for recall's graph
    # signal.
    link_entities: bool = True
    # Documents: the largest file accepted, and bounds on the work one file may cause.
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    document_max_pages: int = Field(default=500, ge=1, le=5000)
    document_max_chunks: int = Field(default=2000, ge=1, le=20_000)
    # A chunk holds whole paragraphs up to about this many characters (~250 tokens).
    chunk_chars: int = Field(default=1200, ge=200, le=8000)
