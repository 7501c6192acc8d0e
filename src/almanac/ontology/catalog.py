"""What the planner matches an intent against: every workflow and service blueprint as a
`Candidate` (the text to match, keyword phrases in every language, the cadence), and the
workflows it adapts. Read-only; the ontology owns these tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from almanac.models import ServiceBlueprint, Workflow


@dataclass(frozen=True, slots=True)
class Candidate:
    """A workflow or blueprint that can become a plan's skeleton."""

    kind: str  # "workflow" | "blueprint"
    id: int
    name: str
    text: str  # what the intent is matched against
    updated_key: str  # changes whenever the row changes (for the vector cache)
    workflow_ids: tuple[int, ...]
    # Keyword phrases in every language (matched lexically, not embedded) and the cadence.
    keywords: tuple[str, ...] = ()
    cadence: str | None = None


class CatalogRepository:
    """Reads of the Pattern Ontology the planner matches intents against and adapts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def candidates(self) -> list[Candidate]:
        """Every workflow and blueprint, with the text used to match intents."""
        out: list[Candidate] = []
        workflows = await self.session.execute(
            select(
                Workflow.id,
                Workflow.name,
                Workflow.capability,
                Workflow.metadata_,
                Workflow.steps,
                Workflow.updated_at,
            )
        )
        for id_, name, capability, metadata, steps, updated in workflows:
            out.append(
                Candidate(
                    kind="workflow",
                    id=id_,
                    name=name,
                    text=match_text(name, capability, metadata, steps),
                    updated_key=updated.isoformat(),
                    workflow_ids=(id_,),
                    keywords=keyword_phrases(metadata),
                    cadence=_cadence(metadata),
                )
            )
        blueprints = await self.session.execute(
            select(
                ServiceBlueprint.id,
                ServiceBlueprint.name,
                ServiceBlueprint.description,
                ServiceBlueprint.metadata_,
                ServiceBlueprint.workflow_sequence,
                ServiceBlueprint.updated_at,
            )
        )
        for id_, name, description, metadata, sequence, updated in blueprints:
            ids = tuple(int(x) for x in (sequence or []) if isinstance(x, int))
            if not ids:
                continue
            text = " ".join(filter(None, [name, description, _keywords(metadata)]))
            out.append(
                Candidate(
                    kind="blueprint",
                    id=id_,
                    name=name,
                    text=text,
                    updated_key=updated.isoformat(),
                    workflow_ids=ids,
                )
            )
        return out

    async def workflows(self, ids: Sequence[int]) -> dict[int, Workflow]:
        rows = await self.session.scalars(select(Workflow).where(Workflow.id.in_(ids)))
        return {w.id: w for w in rows}

    async def workflow(self, workflow_id: int) -> Workflow | None:
        return await self.session.get(Workflow, workflow_id)


def _keywords(metadata: dict[str, Any] | None) -> str:
    if not metadata:
        return ""
    parts: list[str] = []
    for key in ("description", "keywords", "aliases"):
        value = metadata.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(v) for v in value)
    return " ".join(parts)


def keyword_phrases(metadata: dict[str, Any] | None) -> tuple[str, ...]:
    """Keywords and aliases, plus `keywords_i18n` ({"de": [...], "fr": [...], ...})."""
    if not metadata:
        return ()
    out: list[str] = []
    for key in ("keywords", "aliases"):
        value = metadata.get(key)
        if isinstance(value, list):
            out.extend(str(v) for v in value)
    i18n = metadata.get("keywords_i18n")
    if isinstance(i18n, dict):
        for values in i18n.values():
            if isinstance(values, list):
                out.extend(str(v) for v in values)
    return tuple(out[:200])


def _cadence(metadata: dict[str, Any] | None) -> str | None:
    value = (metadata or {}).get("cadence")
    return value if isinstance(value, str) else None


def match_text(
    name: str, capability: str | None, metadata: dict[str, Any] | None, steps: Any
) -> str:
    titles: list[str] = []
    if isinstance(steps, list):
        for step in steps[:20]:
            if isinstance(step, dict) and isinstance(step.get("title"), str):
                titles.append(step["title"])
    return " ".join(filter(None, [name, capability or "", _keywords(metadata), ". ".join(titles)]))
