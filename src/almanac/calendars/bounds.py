"""How long anything may wait for, or hold, the schedule writers' lock (`lock_blocks`).

One setting drives them all, `scheduler.write_lock_timeout_seconds` (L, 20 s by default):

- A request waits for the lock at most L, then answers 503 `Busy` with Retry-After
  (db/limits.py). A job waits at most L too, and never more than half the database
  client's command timeout (a job has no statement timeout to end the wait first); then
  it raises the same `Busy`, logs "calendar busy" and is retried shortly (`jobs.app.Backoff`).
- Whoever holds the lock gives each call to a remote calendar (one read, or one write of
  the diff) at most L/4 (`call_deadline`). A read past it fails (a request answers 503,
  nothing written); a write past it stops between two requests to the server and is queued
  as a pending write (scheduler/pending.py), which the retry's diff finishes.
- The one HTTP request in flight when a deadline passes still ends before the lock is let
  go (calendars/threads.py): so each request to CalDAV or Google waits at most L/4 for the
  server (`request_timeout`; a socket timeout: connecting, and each wait for bytes).

A schedule write thus holds the lock for at most its read (L/4), the solve
(`scheduler.time_limit_seconds`, 3 s), its write (L/4) and one request in flight (L/4):
3L/4 plus the solve, below L while the solve's limit stays under L/4 (the default 3 s
under 5 s). A writer arriving just after it took the lock still gets it.
"""

from __future__ import annotations

from almanac.config import Settings

# The clients' own defaults, kept when the lock allows more.
CALDAV_REQUEST_TIMEOUT = 10.0
GOOGLE_REQUEST_TIMEOUT = 30.0


def call_deadline(settings: Settings) -> float:
    """The longest one remote calendar call may take while the writers' lock is held."""
    return settings.scheduler.write_lock_timeout_seconds / 4


def request_timeout(settings: Settings, default: float) -> float:
    """The socket timeout of a remote calendar client: its `default`, or less under the lock."""
    return min(default, call_deadline(settings))


def job_lock_wait(settings: Settings) -> float:
    """How long a job waits for the writers' lock before it is `Busy` (retried shortly)."""
    return min(
        settings.scheduler.write_lock_timeout_seconds,
        settings.database.command_timeout_seconds / 2,
    )
