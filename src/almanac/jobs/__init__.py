"""Background work: a procrastinate job queue on Almanac's Postgres, and the clock.

`app.build_app` makes the procrastinate App from settings; `queue.enqueue` defers a job
inside a caller's transaction; `worker.run_worker` runs jobs and the clock (`clock.py`,
periodic jobs in the user's time zone).

Each domain's tasks live in its own `tasks.py` (a procrastinate Blueprint). A task reaches
the process's AppState through `jobs.context` (set once by the worker at start-up) and
must be safe to run twice: a job whose worker died is run again (`clock.recover_stalled`).
"""
