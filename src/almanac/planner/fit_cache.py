"""Fitted workflows kept per process, keyed by exactly what they were fitted on.

A fit is a pure function of its runs and knobs (recency counts from the workflow's newest
run, not from the clock), so an unchanged history gets the same fit. Without this the
planner refitted every workflow of a plan on each request, and the observer's patterns
every workflow there is, each time: about a second per workflow at the history cap. The key
is a digest of the runs, so a new, edited or deleted run is a new key: nothing to
invalidate, and several processes never disagree.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence

from almanac.planner.calibration import Run, WorkflowFit, fit_workflow
from almanac.planner.params import Params

_PACK = struct.Struct("<qddddq")


def _digest(workflow_id: int, runs: Sequence[Run], params: Params) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((workflow_id, params)).encode())
    for r in runs:
        h.update(r.task.encode())
        h.update(b"\0")
        h.update(
            _PACK.pack(
                -1 if r.client_id is None else r.client_id,
                r.library_hours,
                r.actual_hours,
                r.at.timestamp(),
                -1.0 if r.planned_hours is None else r.planned_hours,
                r.instance,
            )
        )
    return h.digest()


class FitCache:
    """The last `size` fits, least recently used dropped first."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._fits: OrderedDict[bytes, WorkflowFit] = OrderedDict()
        self._lock = threading.Lock()  # misses are fitted in worker threads
        # The misses being fitted, so that concurrent requests for one history share a fit
        # (each was seconds at the history cap) instead of each fitting it again.
        self._flying: dict[bytes, asyncio.Task[WorkflowFit]] = {}
        self.fitted = 0  # fits computed (the rest were found)

    def fit(self, workflow_id: int, runs: Sequence[Run], params: Params) -> WorkflowFit:
        """The fit of `runs`, computed once per distinct history; the caller gets its own copy."""
        key = _digest(workflow_id, runs, params)
        found = self._get(key)
        if found is None:
            found = self._store(key, fit_workflow(workflow_id, runs, params))
        return copy.deepcopy(found)

    async def fit_async(self, workflow_id: int, runs: Sequence[Run], params: Params) -> WorkflowFit:
        """As `fit`, a miss fitted in a worker thread: a long history (seconds at the cap on
        a loaded machine) must not hold the event loop, and every other request, meanwhile.
        Concurrent misses for one history wait for the one fit; its error reaches each of
        them and is not kept, so the next request fits again."""
        key = _digest(workflow_id, runs, params)
        found = self._get(key)
        if found is not None:
            return copy.deepcopy(found)
        loop = asyncio.get_running_loop()
        with self._lock:
            task = self._flying.get(key)
            if task is None or task.get_loop() is not loop:
                task = loop.create_task(self._fit_once(key, workflow_id, list(runs), params))
                # Its error is retrieved even when every caller was cancelled (the shield
                # no longer looks then): else asyncio logs it as never retrieved.
                task.add_done_callback(_retrieved)
                self._flying[key] = task
        # Shielded: a caller that is cancelled leaves the fit to the others waiting for it.
        return copy.deepcopy(await asyncio.shield(task))

    async def _fit_once(
        self, key: bytes, workflow_id: int, runs: list[Run], params: Params
    ) -> WorkflowFit:
        try:
            return self._store(
                key, await asyncio.to_thread(fit_workflow, workflow_id, runs, params)
            )
        finally:
            with self._lock:
                if self._flying.get(key) is asyncio.current_task():
                    del self._flying[key]

    def _get(self, key: bytes) -> WorkflowFit | None:
        with self._lock:
            found = self._fits.get(key)
            if found is not None:
                self._fits.move_to_end(key)
        return found

    def _store(self, key: bytes, fitted: WorkflowFit) -> WorkflowFit:
        """Keep `fitted`, which is then never handed out itself (callers get copies)."""
        with self._lock:
            self.fitted += 1
            self._fits[key] = fitted
            self._fits.move_to_end(key)
            if len(self._fits) > self.size:
                self._fits.popitem(last=False)
        return fitted


def _retrieved(task: asyncio.Task[WorkflowFit]) -> None:
    if not task.cancelled():
        task.exception()


FITS = FitCache()
