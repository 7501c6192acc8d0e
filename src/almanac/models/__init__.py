"""All tables; importing this module registers them on `Base.metadata`."""

from almanac.models.auth import ApiKey, AuthSession
from almanac.models.base import Base
from almanac.models.cache import CacheGeneration
from almanac.models.calendar import CalendarEntry, OAuthCredential
from almanac.models.documents import DocChunk, DocChunkEmbedding, Document
from almanac.models.graph import GraphEdge, GraphNode, MemoryEntity
from almanac.models.jobs import JobSchedule
from almanac.models.llm import JobReason, LLMCall, LLMOperationSetting
from almanac.models.memory import Event, EventEmbedding, Fact, FactEmbedding
from almanac.models.observer import FactDecision, Reflection
from almanac.models.planning import (
    ExecutionRun,
    Plan,
    PlanVersion,
    ProcessTemplate,
    PromptTemplate,
    SchedulerRun,
    ServiceBlueprint,
    Sprint,
    Task,
    Workflow,
)
from almanac.models.search import SearchStat, SearchTerm

__all__ = [
    "ApiKey",
    "AuthSession",
    "Base",
    "CacheGeneration",
    "CalendarEntry",
    "DocChunk",
    "DocChunkEmbedding",
    "Document",
    "Event",
    "EventEmbedding",
    "ExecutionRun",
    "Fact",
    "FactDecision",
    "FactEmbedding",
    "GraphEdge",
    "GraphNode",
    "MemoryEntity",
    "JobSchedule",
    "JobReason",
    "LLMCall",
    "LLMOperationSetting",
    "OAuthCredential",
    "Plan",
    "PlanVersion",
    "ProcessTemplate",
    "PromptTemplate",
    "Reflection",
    "SchedulerRun",
    "SearchStat",
    "SearchTerm",
    "ServiceBlueprint",
    "Sprint",
    "Task",
    "Workflow",
]
