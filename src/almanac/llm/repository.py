"""SQL for LLM call records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, true
from sqlalchemy.dialects.postgresql import insert

from almanac.db.repository import Repository
from almanac.llm.base import LLMCallRecord
from almanac.models import LLMCall, LLMOperationSetting


class LLMCallRepository(Repository):
    """Writes call records and sums them up."""

    async def record(self, record: LLMCallRecord) -> None:
        await self.add_all([LLMCall(**asdict(record))])

    async def count_since(self, operation: str, since: datetime) -> int:
        """Calls of `operation` that reached the model since `since` (the daily cap counts
        these: a call refused by an open circuit or a server that was down cost nothing)."""
        stmt = select(func.count()).where(
            LLMCall.operation == operation,
            LLMCall.created_at >= since,
            LLMCall.reached_model.is_(True),
        )
        return int(await self.session.scalar(stmt) or 0)

    async def usage(self, since: datetime) -> list[dict[str, object]]:
        """Per operation and model: calls, tokens, cost and latency since `since`."""
        return await self._totals(
            (LLMCall.operation, LLMCall.model),
            since,
            func.avg(LLMCall.latency_ms).label("mean_latency_ms"),
        )

    async def usage_by_prompt(self, since: datetime) -> list[dict[str, object]]:
        """Per prompt template and version: calls, tokens, cost and rejections since `since`."""
        return await self._totals(
            (LLMCall.prompt_template, LLMCall.prompt_version),
            since,
            where=LLMCall.prompt_template.is_not(None),
        )

    async def _totals(
        self,
        keys: tuple[Any, ...],
        since: datetime,
        *extra: Any,
        where: Any = None,
    ) -> list[dict[str, object]]:
        """Calls, tokens, cost, failures and rejections since `since`, grouped by `keys`."""
        stmt = (
            select(
                *keys,
                func.count().label("calls"),
                func.sum(LLMCall.tokens_in).label("tokens_in"),
                func.sum(LLMCall.tokens_out).label("tokens_out"),
                func.sum(LLMCall.cost).label("cost"),
                *extra,
                func.count().filter(LLMCall.outcome.notin_(("ok", "repaired"))).label("failed"),
                func.count().filter(LLMCall.outcome == "rejected").label("rejected"),
            )
            .where(LLMCall.created_at >= since, where if where is not None else true())
            .group_by(*keys)
            .order_by(*keys)
        )
        return [dict(row._mapping) for row in await self.session.execute(stmt)]


class LLMTuningRepository(Repository):
    """The per-operation choices made at run time (`llm_operation_settings`), keyed by the
    operation's name rather than an id, so `get`/`put`/`delete` stand in for the base's."""

    async def get(self, operation: str) -> LLMOperationSetting | None:
        return await self.session.get(LLMOperationSetting, operation)

    async def all(self) -> dict[str, LLMOperationSetting]:
        rows = await self.session.scalars(select(LLMOperationSetting))
        return {row.operation: row for row in rows}

    async def put(
        self,
        operation: str,
        *,
        model: str | None,
        temperature: float | None,
        max_tokens: int | None,
    ) -> LLMOperationSetting:
        values = {"model": model, "temperature": temperature, "max_tokens": max_tokens}
        stmt = (
            insert(LLMOperationSetting)
            .values(operation=operation, **values)
            .on_conflict_do_update(
                index_elements=[LLMOperationSetting.operation],
                set_={**values, "updated_at": func.now()},
            )
            .returning(LLMOperationSetting)
        )
        row = (await self.session.scalars(stmt)).one()
        await self.session.refresh(row)
        return row

    async def delete(self, operation: str) -> bool:
        stmt = delete(LLMOperationSetting).where(LLMOperationSetting.operation == operation)
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]
