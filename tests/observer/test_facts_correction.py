"""An extracted fact correcting today's value, after a later-dated successor was stated, is
recorded as superseding the fact valid today (the one it closes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.memory.schemas import FactIn, SupersedeIn
from almanac.memory.service import MemoryService
from almanac.models import Fact
from almanac.observer.deps import fact_extractor
from almanac.state import AppState

SLOT = {"subject_type": "client", "subject_id": "42", "fact_type": "identity", "category": "rate"}


async def test_a_correction_of_todays_value_is_recorded_as_superseding_it(
    db_session: AsyncSession, state: AppState
) -> None:
    facts = MemoryService(UnitOfWork(db_session), state.embedder, state.cache, state.settings).facts
    now = datetime.now(UTC)
    today = (await facts.write(FactIn(**SLOT, content="Day rate 1200", valid_from=now))).fact
    later = await facts.supersede(
        today.id, SupersedeIn(content="Day rate 1400", valid_from=now + timedelta(days=30))
    )
    proposal = {**SLOT, "content": "Day rate 1250", "salience": 0.8}
    d = await fact_extractor(UnitOfWork(db_session), state).decide(proposal, "metadata", None)
    assert (d.decision, d.reason) == ("superseded", f"supersedes fact {today.id}"), d.reason
    written = await db_session.get(Fact, d.fact_id)
    assert written is not None and written.content == "Day rate 1250"
    assert written.supersedes_id == today.id and written.valid_to == later.fact.valid_from
