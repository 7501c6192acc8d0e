"""Costly parsing in a worker process of its own, so a hostile file never holds the server.

A thread would not do: parsing is pure Python and holds the GIL, and it queued on the
event loop's default executor ahead of recall's embedding calls (six uploaded PDFs held an
uncached recall for 28 s). Each `Worker` is one spawned process, started on first use and
reused; files go through it one at a time, a few more may wait a bounded time (else the
caller is told the server is busy), and a parse that outlives its budget by far is killed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from almanac.errors import Busy, ValidationFailed

T = TypeVar("T")
_WORKERS: list[Worker] = []


def shutdown_all() -> None:
    """Stop every worker process (at the app's shutdown: none may outlive the server)."""
    for worker in _WORKERS:
        worker.shutdown()


@dataclass(frozen=True)
class _Refused:
    """A `ValidationFailed` as plain data: the exception's keyword arguments do not pickle."""

    message: str
    field: str | None


def _call(fn: Callable[..., object], args: tuple[Any, ...]) -> object:
    try:
        return fn(*args)
    except ValidationFailed as exc:
        return _Refused(exc.message, exc.errors[0]["field"] if exc.errors else None)


class Worker:
    """One worker process for one kind of file (`what`: "the calendar file reader")."""

    def __init__(self, what: str, *, field: str, waiting: int = 4, wait_seconds: float = 30.0):
        self.what = what
        self.field = field  # the request field a file that overran its budget is named by
        self.waiting = waiting  # files that may wait for the worker; more are told busy
        self.wait_seconds = wait_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._queued = 0
        self._turn: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        _WORKERS.append(self)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the server has threads (ONNX, asyncio's executor) to not copy.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._pool

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: a lock made under one loop cannot be waited for in another
        # (each test, and each `almanac` CLI call, runs its own).
        loop = asyncio.get_running_loop()
        if self._turn is None or self._loop is not loop:
            self._turn, self._loop, self._queued = asyncio.Lock(), loop, 0
        return self._turn

    def shutdown(self) -> None:
        """Stop the worker process (at the app's shutdown: it must not outlive the server)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any, budget: float, grace: float) -> T:
        """`fn(*args)` in the worker: a `ValidationFailed` it raises comes back as itself; past
        `budget` + `grace` seconds the worker is killed and the file refused."""
        turn = self._lock()
        if self._queued >= self.waiting + 1:
            raise Busy(f"{self.what} has {self._queued} files in hand; retry shortly")
        self._queued += 1
        try:
            try:
                await asyncio.wait_for(turn.acquire(), self.wait_seconds)
            except TimeoutError:
                raise Busy(f"{self.what} is busy with other files; retry shortly") from None
            try:
                result = await self._run_once(fn, args, budget + grace, budget)
            finally:
                turn.release()
        finally:
            self._queued -= 1
        if isinstance(result, _Refused):
            raise ValidationFailed(result.message, field=result.field)
        return cast(T, result)

    async def _run_once(
        self, fn: Callable[..., object], args: tuple[Any, ...], limit: float, budget: float
    ) -> object:
        try:
            return await self._attempt(fn, args, limit, budget)
        except BrokenProcessPool:
            # The worker died under this file (killed at shutdown, out of memory): read once
            # more by a fresh one.
            self.shutdown()
        try:
            return await self._attempt(fn, args, limit, budget)
        except BrokenProcessPool:
            self.shutdown()
            raise Busy(f"{self.what} stopped twice; retry shortly") from None

    async def _attempt(
        self, fn: Callable[..., object], args: tuple[Any, ...], limit: float, budget: float
    ) -> object:
        future = asyncio.get_running_loop().run_in_executor(self._executor(), _call, fn, args)
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            self.shutdown()
            raise ValidationFailed(
                f"reading the file took longer than {budget:g} s", field=self.field
            ) from None
