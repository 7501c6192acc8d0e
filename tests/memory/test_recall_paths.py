"""The two vector paths of a filtered recall: exact over the few rows a filter leaves, or
the HNSW index when the filter leaves many. Both must respect the filter; the exact one
must rank by true cosine distance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import SearchSettings
from almanac.embedder.base import Embedder
from almanac.memory.search import SearchRepository
from almanac.memory.search_sql import EventFilters
from almanac.models import Event
from tests.memory.test_recall import remember

# Words the query below never uses, so the full-text side is empty and the fused order
# is the vector order.
TEXTS = [
    "Quarterly invoice for the retainer",
    "Walked the dog along the river",
    "Podcast episode about hiring engineers",
    "Bought flour, eggs and butter",
    "Landing page copy needs a stronger headline",
    "Dentist appointment moved to Friday",
    "Webinar slides for the analytics launch",
    "Renewed the passport at the embassy",
    "Brand refresh moodboard shared with design",
    "Fixed the leaking kitchen tap",
]
QUERY = "money owed by customers"


async def _search(session: AsyncSession, embedder: Embedder, cap: int, client_id: int) -> list[int]:
    repo = SearchRepository(session, SearchSettings(exact_scan_rows=cap))
    qvec = [float(x) for x in await embedder.embed_query(QUERY)]
    hits = await repo.search_events(
        QUERY, qvec, embedder.model, embedder.dim, 5, EventFilters(client_id=client_id)
    )
    return [h.id for h in hits]


async def test_narrow_filters_rank_exactly_and_wide_ones_use_the_index(
    client: httpx.AsyncClient, db_session: AsyncSession, embedder: Embedder
) -> None:
    ids = {}
    for text in TEXTS:
        ids[await remember(client, text, client_id=2)] = text
    for text in TEXTS:  # another client's identical memories must never come back
        await remember(client, text, client_id=3)
    soon = datetime.now(UTC) + timedelta(hours=1)
    expired = await remember(
        client, "Invoice money owed by customers", client_id=2, expires_at=soon.isoformat()
    )
    # Time passes: it expired an hour ago (remember refuses an expiry already past).
    past = datetime.now(UTC) - timedelta(hours=1)
    await db_session.execute(update(Event).where(Event.id == expired).values(expires_at=past))

    # The truth, computed here: cosine similarity of the embedder's own vectors.
    q = np.asarray(await embedder.embed_query(QUERY), dtype=np.float64)
    vecs = np.asarray(await embedder.embed(list(ids.values())), dtype=np.float64)
    sims = vecs @ q / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q))
    truth = [list(ids)[i] for i in np.argsort(-sims)[:5]]

    exact = await _search(db_session, embedder, 100, client_id=2)  # 10 rows <= 100: exact
    assert exact == truth
    indexed = await _search(db_session, embedder, 5, client_id=2)  # 10 rows > 5: HNSW
    assert set(indexed) <= set(ids) and expired not in indexed
    assert set(indexed) == set(truth)  # ten points: the index search is exact too
    assert await _search(db_session, embedder, 0, client_id=2) == indexed  # 0: always HNSW
    assert await _search(db_session, embedder, 100, client_id=99) == []
