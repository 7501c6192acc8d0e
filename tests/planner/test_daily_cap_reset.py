"""The daily planning cap's Retry-After counts real seconds to the user's next midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.db.uow import UnitOfWork
from almanac.errors import RateLimited
from almanac.planner.deps import planner_service
from almanac.state import AppState


@pytest.mark.parametrize(
    ("zone", "now", "seconds"),
    [
        # 01:00 CEST on the night clocks go back: 24 real hours to midnight, 23 on the wall.
        ("Europe/Berlin", datetime(2027, 10, 30, 23, 0, tzinfo=UTC), 24 * 3600),
        # 01:00 CET on the night clocks go forward: 22 real hours, 23 on the wall.
        ("Europe/Berlin", datetime(2027, 3, 28, 0, 0, tzinfo=UTC), 22 * 3600),
        # 23:30 EST on an ordinary evening (04:30 UTC the next day): half an hour.
        ("America/New_York", datetime(2026, 12, 3, 4, 30, tzinfo=UTC), 1800),
    ],
)
async def test_retry_after_is_the_real_time_to_the_next_local_midnight(
    db_session: AsyncSession, state: AppState, zone: str, now: datetime, seconds: int
) -> None:
    """Wall-clock arithmetic made the wait an hour short on the night clocks go back (a
    client retried into another 429) and an hour long on the night they go forward."""
    planner = planner_service(UnitOfWork(db_session), state)
    planner.timezone, planner.daily_planning_cap = zone, 0  # capped with no call made
    with pytest.raises(RateLimited) as caught:
        await planner._check_cap(now)
    assert caught.value.headers == {"Retry-After": str(seconds)}
