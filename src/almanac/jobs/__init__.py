"""Background work: a procrastinate job queue on Almanac's Postgres, and the clock.

`app.build_app` makes the procrastinate App from settings; `queue.enqueue` defers a job
inside a caller's transaction; `worker.run_worker` runs jobs and the clock (`clock.py`,
periodic jobs in the user's time zone); `retention.py` archives and deletes old events.
"""
