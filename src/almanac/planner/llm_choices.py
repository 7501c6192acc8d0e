"""Models per operation: the model, temperature and token limit each operation uses, chosen
at run time over the settings' defaults, with a cost estimate from recorded usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from almanac.config import LLMSettings
from almanac.db.uow import UnitOfWork
from almanac.llm.repository import LLMCallRepository, LLMTuningRepository
from almanac.llm.tuning import OPERATIONS
from almanac.models import LLMOperationSetting
from almanac.planner.schemas import (
    CostEstimate,
    Operation,
    OperationChoiceIn,
    OperationChoiceOut,
    OperationChoices,
)

WINDOW = timedelta(days=30)


class LLMChoiceService:
    """Read and change the per-operation choices. Never commits."""

    def __init__(self, uow: UnitOfWork, settings: LLMSettings) -> None:
        self.tuning = LLMTuningRepository(uow.session)
        self.calls = LLMCallRepository(uow.session)
        self.settings = settings

    async def overview(self) -> OperationChoices:
        chosen = await self.tuning.all()
        usage = await self.calls.usage(datetime.now(UTC) - WINDOW)
        configured = self.settings.provider != "none"
        note = (
            "Choices apply to the next call of each operation, in every process."
            if configured
            else "No LLM is configured: choices are kept and apply once one is."
        )
        return OperationChoices(
            llm_configured=configured,
            note=note,
            operations=[self._out(op, chosen.get(op), usage) for op in OPERATIONS],
        )

    async def choose(self, operation: Operation, body: OperationChoiceIn) -> OperationChoiceOut:
        if body.model is None and body.temperature is None and body.max_tokens is None:
            return await self.reset(operation)
        await self.tuning.put(
            operation, model=body.model, temperature=body.temperature, max_tokens=body.max_tokens
        )
        return await self._one(operation)

    async def reset(self, operation: Operation) -> OperationChoiceOut:
        """Back to the settings' model and limit."""
        await self.tuning.delete(operation)
        return await self._one(operation)

    async def _one(self, operation: str) -> OperationChoiceOut:
        listing = await self.overview()
        return next(o for o in listing.operations if o.operation == operation)

    def _out(
        self, operation: str, row: LLMOperationSetting | None, usage: list[dict[str, Any]]
    ) -> OperationChoiceOut:
        configured_model = self.settings.models.get(operation) or self.settings.model
        configured_tokens = self.settings.max_tokens.get(operation)
        model = (row.model if row else None) or configured_model
        mine = [u for u in usage if u["operation"] == operation]
        calls = sum(int(u["calls"]) for u in mine)
        tokens = sum(int(u["tokens_in"] or 0) + int(u["tokens_out"] or 0) for u in mine)
        mean_tokens = tokens / calls if calls else None
        return OperationChoiceOut(
            operation=cast(Operation, operation),
            model=model,
            source="dashboard" if row is not None else "settings",
            temperature=row.temperature if row else None,
            max_tokens=(row.max_tokens if row else None) or configured_tokens,
            configured_model=configured_model,
            configured_max_tokens=configured_tokens,
            calls_30_days=calls,
            mean_tokens_per_call=mean_tokens,
            estimate=_estimate(operation, model, calls, mean_tokens, usage),
            updated_at=row.updated_at if row else None,
        )


def _estimate(
    operation: str,
    model: str | None,
    calls: int,
    mean_tokens: float | None,
    usage: list[dict[str, Any]],
) -> CostEstimate:
    """Tokens per call of this operation (any model) at the price recorded for `model`."""
    if model is None:
        return CostEstimate(per_call=None, per_30_days=None, basis="no model chosen")
    if not calls or mean_tokens is None:
        return CostEstimate(
            per_call=None, per_30_days=None, basis=f"no {operation} calls in the last 30 days"
        )
    priced = [u for u in usage if u["model"] == model and u["cost"] is not None]
    cost = sum(float(u["cost"]) for u in priced)
    priced_tokens = sum(int(u["tokens_in"] or 0) + int(u["tokens_out"] or 0) for u in priced)
    if not priced_tokens:
        return CostEstimate(
            per_call=None,
            per_30_days=None,
            basis=f"no recorded price for {model} (its server reports no cost)",
        )
    per_call = mean_tokens * cost / priced_tokens
    return CostEstimate(
        per_call=per_call,
        per_30_days=per_call * calls,
        basis=(
            f"{calls} {operation} calls in 30 days, about {mean_tokens:.0f} tokens each, "
            f"at {model}'s recorded price"
        ),
    )
