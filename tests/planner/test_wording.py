"""Wording: a plan without a deadline does not claim it was adapted to one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from almanac.errors import Conflict
from almanac.planner.status import require_transition


async def test_no_deadline_no_deadline_claim(client: httpx.AsyncClient):
    r = await client.post("/api/v1/planner/workflows/import")
    assert r.status_code == 200, r.text
    plain = await client.post("/api/v1/planner/plan", json={"intent": "Run a discovery call"})
    assert plain.status_code == 201, plain.text
    assert not any("deadline" in n for n in plain.json()["notes"])
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    dated = await client.post(
        "/api/v1/planner/plan", json={"intent": "Run a discovery call", "deadline": deadline}
    )
    assert dated.status_code == 201, dated.text
    assert any("adapted to the deadline" in n for n in dated.json()["notes"])


def test_status_messages_read_well():
    with pytest.raises(Conflict) as same:
        require_transition("approved", "approved")
    assert same.value.message.startswith("the plan is already approved")
    with pytest.raises(Conflict) as other:
        require_transition("approved", "completed")
    assert "a approved" not in other.value.message
    assert other.value.message.startswith("the plan is approved and cannot become completed")
