"""A small circuit breaker: stop calling a server that keeps failing, try again later.

closed --(N consecutive failures)--> open --(reset seconds pass)--> half-open
half-open --(the one trial call succeeds)--> closed; --(it fails)--> open again.

Pure state: no I/O, no sleeping, and the clock is a callable so tests can move time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures and decides whether a call may go out."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_seconds < 0:
            raise ValueError("reset_seconds must be >= 0")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> State:
        """The current state, moving open → half-open once the reset time has passed."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_seconds:
            return "half_open"
        return "open"

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def allow(self) -> bool:
        """Whether a call may be made now; in half-open, only one trial call at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probe_in_flight:
            return False
        # Half-open: let exactly one caller find out whether the server is back.
        self._probe_in_flight = True
        return True

    def retry_in(self) -> float:
        """Seconds until a trial call will be allowed (0 unless open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_seconds - self._clock())

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """A call failed: open the circuit at the threshold, or again after a failed trial."""
        self._failures += 1
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        if was_probe or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()

    def release(self) -> None:
        """A call ended without telling anything about the server's health."""
        self._probe_in_flight = False


# /health calls the LLM degraded while the last real call failed less than this long ago.
HEALTH_WINDOW_SECONDS = 600.0


class RecentCalls:
    """How the last real calls ended, so /health can tell the truth about the LLM."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, size: int = 5) -> None:
        self._clock = clock
        self._calls: deque[tuple[float, bool, str]] = deque(maxlen=size)

    def note(self, ok: bool, reason: str = "") -> None:
        """A call ended: well, or not and why."""
        self._calls.append((self._clock(), ok, reason))

    def failure(self) -> str | None:
        """Why the LLM looks unwell: the last calls failed, recently (None: it looks fine)."""
        if not self._calls:
            return None
        at, ok, reason = self._calls[-1]
        if ok or self._clock() - at > HEALTH_WINDOW_SECONDS:
            return None
        failed = 0
        for _, was_ok, _ in reversed(self._calls):
            if was_ok:
                break
            failed += 1
        return f"the last {failed} call(s) failed ({reason})"
