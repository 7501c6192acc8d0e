"""Prompt templates: every edit is a new version; exactly one version of a name is active."""

from __future__ import annotations

import re

from almanac.db.repository import row_out
from almanac.db.uow import UnitOfWork
from almanac.errors import NotFound
from almanac.models import PromptTemplate
from almanac.planner.repository import PromptRepository
from almanac.planner.schemas import PromptOut, PromptSummary, PromptVersionIn


def prompt_out(row: PromptTemplate) -> PromptOut:
    return row_out(PromptOut, row)


def _number(version: str) -> int:
    match = re.fullmatch(r"v(\d+)", version)
    return int(match.group(1)) if match else 0


class PromptService:
    """List, read, add versions, activate. Never commits."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = PromptRepository(uow.session)

    async def summaries(self) -> list[PromptSummary]:
        by_name: dict[str, list[PromptTemplate]] = {}
        for row in await self.repo.versions():
            by_name.setdefault(row.template_name, []).append(row)
        return [
            PromptSummary(
                template_name=name,
                template_type=rows[0].template_type,
                active_version=next((r.version for r in rows if r.is_active), None),
                versions=[r.version for r in rows],
            )
            for name, rows in by_name.items()
        ]

    async def _versions(self, name: str) -> list[PromptTemplate]:
        rows = await self.repo.versions(name)
        if not rows:
            raise NotFound(f"no prompt template named {name!r}")
        return rows

    async def versions(self, name: str) -> list[PromptOut]:
        return [prompt_out(r) for r in await self._versions(name)]

    async def active(self, name: str) -> PromptOut:
        row = await self.repo.active(name)
        if row is None:
            await self._versions(name)  # 404 when the name is unknown
            raise NotFound(f"prompt template {name!r} has no active version")
        return prompt_out(row)

    async def version(self, name: str, version: str) -> PromptOut:
        for row in await self._versions(name):
            if row.version == version:
                return prompt_out(row)
        raise NotFound(f"prompt template {name!r} has no version {version!r}")

    async def add_version(self, name: str, body: PromptVersionIn) -> PromptOut:
        """A new version after the highest one; active only when asked."""
        await self.repo.lock_name(name)
        rows = await self._versions(name)
        number = max(_number(r.version) for r in rows) + 1
        if body.activate:
            await self.repo.deactivate_all(name)
        row = await self.repo.add(
            PromptTemplate(
                template_name=name,
                template_type=rows[0].template_type,
                content=body.content,
                version=f"v{number}",
                is_active=body.activate,
            )
        )
        return prompt_out(row)

    async def activate(self, name: str, version: str) -> PromptOut:
        await self.repo.lock_name(name)
        rows = await self._versions(name)
        target = next((r for r in rows if r.version == version), None)
        if target is None:
            raise NotFound(f"prompt template {name!r} has no version {version!r}")
        if target.is_active:  # gives way to nothing: no `deactivated_at` of its own
            return prompt_out(target)
        await self.repo.deactivate_all(name)
        await self.repo.set_active(target)
        return prompt_out(target)
