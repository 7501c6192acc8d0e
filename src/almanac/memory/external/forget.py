"""Forgetting reaches the external memory: what Almanac wrote to Zep is deleted there too.

The plan is computed in the forgetting transaction from the rows being deleted (only ids
and Zep's names, never content) and queued as a job in that same transaction, so a commit
always leaves a durable, retried deletion behind. After the commit the deletion is also
tried once at once, within the recall budget, so the answer can say "deleted"; when Zep
is slow or down it says "queued" and the job keeps retrying. Every step is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from almanac.config import ZepSettings
from almanac.db.uow import UnitOfWork
from almanac.jobs.queue import enqueue, enqueue_many
from almanac.memory.external.base import ExternalMemory, ExternalMemoryError
from almanac.memory.external.factory import zep_thread_user, zep_user_client, zep_user_id
from almanac.memory.external.repository import SentMarks
from almanac.memory.external.sync import queue_import

TASK = "almanac:zep_forget"
# Beyond the attempt's budget: the work left in the transaction before its commit.
ATTEMPT_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class ExternalForget:
    """What to delete in the provider (JSON-able: it travels as the job's arguments)."""

    users: list[str] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    episodes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.users or self.threads or self.episodes)

    def as_args(self) -> dict[str, Any]:
        return asdict(self)


def plan(
    client_id: int | None,
    default_user: str,
    sent: Sequence[tuple[int, str]],
    fact_episodes: Sequence[str],
) -> ExternalForget:
    """A client's whole Zep user goes; otherwise the threads holding forgotten messages
    (`sent`: event id and thread) and the graph episodes of forgotten facts."""
    users = [zep_user_id(client_id, default_user)] if client_id is not None else []
    return ExternalForget(
        users=users,
        threads=sorted({thread for _, thread in sent}),
        event_ids=sorted(event_id for event_id, _ in sent),
        episodes=sorted(set(fact_episodes)),
    )


async def queue(session: AsyncSession, what: ExternalForget, attempt_s: float = 0.0) -> None:
    """Queue the deletion in the caller's transaction; with an attempt right after the
    commit (`try_now`, at most `attempt_s`), to run once that is over. The attempt holds no
    data lock (it runs after the boundary's commit): the job, run after it, re-sends what
    was sent meanwhile into what the attempt deleted. Run before it, a late attempt would
    delete what the job had just sent again."""
    later = timedelta(seconds=attempt_s) + ATTEMPT_MARGIN if attempt_s else None
    await enqueue(
        session,
        TASK,
        args={"what": what.as_args()},
        queue="zep",
        schedule_at=datetime.now(UTC) + later if later else None,
    )


async def forget_sent(
    uow: UnitOfWork, provider: ExternalMemory, zep: ZepSettings, sent: Sequence[tuple[int, str]]
) -> None:
    """Deleted memories that were in Zep (event id, thread): their threads go there too,
    queued in the caller's transaction and tried once after its commit (the job re-sends
    what else the threads held)."""
    what = plan(None, zep.default_user_id, sent, [])
    if not what:
        return
    await queue(uow.session, what, zep.recall_budget_ms / 1000)

    async def attempt() -> None:
        await try_now(provider, what, zep.recall_budget_ms / 1000)

    uow.after_commit(attempt)


async def try_now(provider: ExternalMemory, what: ExternalForget, budget_s: float) -> str | None:
    """Delete at once; None when done, else why not (the queued job will retry)."""
    try:
        await asyncio.wait_for(
            provider.forget(what.users, what.threads, what.event_ids, what.episodes), budget_s
        )
    except TimeoutError:
        return f"zep did not answer within {budget_s:.1f} s"
    except ExternalMemoryError as exc:
        return str(exc)
    return None


async def run_job(
    provider: ExternalMemory, session: AsyncSession, what: ExternalForget, default_user: str
) -> int:
    """The queued job: delete in Zep, then re-send what Almanac still keeps of the deleted
    threads and users (memories and facts sent there since the forget: a client remembered
    again before this ran); returns how many were queued to be sent again.

    The bulk of it (a call per message of each thread: their graph episodes, and the
    facts' episodes) holds no lock, or every forget and delete would wait for Zep
    meanwhile. The rest -- the episodes of messages sent since, the threads, the users --
    holds the data locks of the users it touches (as a send holds its one) to the commit:
    a send marks its memory as sent either before that (and is cleared here) or after."""
    marks = SentMarks(session)
    done = await provider.forget_episodes(what.threads, what.episodes)
    touched = _clients(what.users + [zep_thread_user(t) for t in what.threads], default_user)
    await marks.lock_all(touched)
    await provider.forget(what.users, what.threads, what.event_ids, [], done)
    events = await marks.unmark_threads(what.threads, what.users)
    facts = await marks.unmark_facts(_clients(what.users, default_user)) if what.users else []
    if events:
        await enqueue_many(
            session, "almanac:zep_send", [{"event_id": i} for i in events], queue="zep"
        )
    if facts:
        await enqueue_many(
            session, "almanac:zep_fact", [{"fact_id": i} for i in facts], queue="zep"
        )
    # An import of the users kept (whose threads went) waited for this deletion: queue it.
    for client_id in _kept_users(what, default_user):
        await queue_import(session, client_id, zep_user_id(client_id, default_user))
    return len(events) + len(facts)


def _clients(users: Sequence[str], default_user: str) -> list[int | None]:
    """The clients (None: the owner) of these Zep users that are Almanac's."""
    found = {zep_user_client(user, default_user) for user in users}
    return [client_id for ours, client_id in found if ours]


def _kept_users(what: ExternalForget, default_user: str) -> list[int | None]:
    """The clients (None: the owner) whose threads, not whole users, were deleted."""
    found: set[int | None] = set()
    for thread in what.threads:
        user = zep_thread_user(thread)
        ours, client_id = zep_user_client(user, default_user)
        if ours and user not in what.users:
            found.add(client_id)
    return sorted(found, key=lambda c: -1 if c is None else c)
