"""The lock between forgetting a client and importing Zep's facts of it holds that client
only: not another client whose key would hash alike, nor a lock of another kind."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from almanac.memory.forget_repository import ForgetRepository
from almanac.state import AppState

# Two client ids whose old lock keys ('client-data:<id>') hash alike: Postgres' own hashtext,
# computed here rather than written down.
COLLIDING = text(
    "SELECT array_agg(g ORDER BY g) FROM generate_series(1, 300000) AS g "
    "GROUP BY hashtext('client-data:' || g) HAVING count(*) > 1 LIMIT 1"
)


async def blocked(state: AppState, holder: int, waiter: int) -> bool:
    """Whether locking client `waiter` waits while another transaction holds `holder`."""
    async with state.sessionmaker() as first, state.sessionmaker() as second:
        async with first.begin():
            await ForgetRepository(first).lock_client(holder)
            async with second.begin():
                await second.execute(text("SET LOCAL lock_timeout = '300ms'"))
                try:
                    await ForgetRepository(second).lock_client(waiter)
                except DBAPIError as exc:
                    assert "lock timeout" in str(exc).lower(), exc
                    return True
                return False


async def test_a_clients_lock_holds_that_client_only(committed_state: AppState) -> None:
    async with committed_state.sessionmaker() as session:
        pair = await session.scalar(COLLIDING)
        # Its key space is not the fact slots' nor the documents' (two-key locks too).
        spaces = "SELECT hashtext('client-data') IN (hashtext('fact'), hashtext('document'))"
        assert await session.scalar(text(spaces)) is False
    assert pair is not None and len(pair) >= 2  # some pair of ids collides in this range
    x, y = pair[0], pair[1]
    assert await blocked(committed_state, x, x)  # the same client waits: it serialises
    assert not await blocked(committed_state, x, y)
    assert not await blocked(committed_state, y, x)


async def owner_blocks(state: AppState, then_client: int | None) -> bool:
    """Whether, while one transaction holds the owner's lock, another waits for the owner's
    lock (`then_client` None) or for that client's."""
    async with state.sessionmaker() as first, state.sessionmaker() as second:
        async with first.begin():
            await ForgetRepository(first).lock_owner()
            async with second.begin():
                await second.execute(text("SET LOCAL lock_timeout = '300ms'"))
                waiter = ForgetRepository(second)
                try:
                    if then_client is None:
                        await waiter.lock_owner()
                    else:
                        await waiter.lock_client(then_client)
                except DBAPIError as exc:
                    assert "lock timeout" in str(exc).lower(), exc
                    return True
                return False


async def test_the_owners_lock_is_its_own(committed_state: AppState) -> None:
    """A forget holds it, and an import of the owner's Zep facts waits; a client's import
    (its client's lock only) does not wait for it, whatever the client's id."""
    async with committed_state.sessionmaker() as session:
        spaces = (
            "SELECT hashtext('owner-data') IN "
            "(hashtext('client-data'), hashtext('fact'), hashtext('document'))"
        )
        assert await session.scalar(text(spaces)) is False
    assert await owner_blocks(committed_state, None)
    for client_id in (0, 1, 7):
        assert not await owner_blocks(committed_state, client_id)
