"""Idempotency keys of POST /plan: a retry finds the plan its key made, never another's.

A key belongs to its caller (the API key's id; 0 for a caller in process), so one caller's
key never names another's plan. The request is hashed without its key: a retry with the
same words is answered with the first plan, anything else under the key is a 409.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from almanac.errors import Conflict
from almanac.models import Plan
from almanac.planner.plans import plan_out
from almanac.planner.repository import PlanRepository
from almanac.planner.schemas import PlanIn, PlanOut

IN_PROCESS = 0  # the caller of a plan made without an API key (tests, in-process tools)


@dataclass(frozen=True, slots=True)
class Keyed:
    """A plan request's key, whose it is, and what it asked."""

    key: str
    caller: int
    digest: str

    def columns(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.key,
            "idempotency_caller": self.caller,
            "idempotency_hash": self.digest,
        }


def request_digest(body: PlanIn) -> str:
    """SHA-256 of what the request asks (its key aside; a deadline read in UTC)."""
    asked = body.model_dump(exclude={"idempotency_key"})
    if isinstance(asked.get("deadline"), datetime):
        asked["deadline"] = asked["deadline"].astimezone(UTC).isoformat()
    text = json.dumps(asked, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def keyed(body: PlanIn, caller: int) -> Keyed | None:
    """The request's key, or None when it sent none (each request then makes a plan)."""
    if body.idempotency_key is None:
        return None
    return Keyed(body.idempotency_key, caller, request_digest(body))


async def first_plan(plans: PlanRepository, key: Keyed) -> PlanOut | None:
    """The plan this caller's key made, when the request asks what it asked; 409 when
    the key made a plan for another request."""
    plan = await plans.keyed(key.caller, key.key)
    if plan is None:
        return None
    return replay(plan, key)


def replay(plan: Plan, key: Keyed) -> PlanOut:
    if plan.idempotency_hash != key.digest:
        raise Conflict(
            f"idempotency_key {key.key!r} was already used for a different plan request "
            f"(plan {plan.id}); use a new key for a new plan",
            errors=[{"field": "idempotency_key", "message": "already used for another request"}],
        )
    return plan_out(plan)


async def raced(plans: PlanRepository, key: Keyed | None) -> PlanOut:
    """The plan of a concurrent request that stored its plan under the key first."""
    plan = await plans.keyed(key.caller, key.key) if key is not None else None
    if key is None or plan is None:  # the other request's plan was deleted meanwhile
        raise Conflict("a concurrent request with this idempotency_key changed; retry")
    return replay(plan, key)
