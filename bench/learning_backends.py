"""The two ways bench/learning_loop.py plans and logs work: the real API, or the estimator.

`ApiBackend` drives the real service in-process over HTTP (ASGI) on a fresh embedded
Postgres: plans with `"estimates": "calibrated"` or `"library"`, approval, execution runs.
`DirectBackend` calls the same estimator (planner/calibration.py) without HTTP or a
database, for choosing parameters quickly. Both answer `probe`: the plan the consultant
would get now for a workflow and client, without doing the work (how drift recovery is
measured).
"""

from __future__ import annotations

import itertools
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from learning_worlds import Engagement

from almanac.app import create_app
from almanac.auth.deps import authenticate
from almanac.cli.runtime import LOCAL_OWNER, answer
from almanac.config import Settings
from almanac.deps import get_state
from almanac.ontology.library import load_library
from almanac.planner.calibration import Run, fit_workflow, predict
from almanac.planner.estimates import library_hours, round_hours
from almanac.planner.params import Params
from almanac.state import build_state

ZONE = "Europe/Berlin"


@dataclass(frozen=True, slots=True)
class Planned:
    """One task of a plan: its origin and the feedback, library and interval hours."""

    workflow: str
    key: str
    library: float
    hours: float
    low: float
    high: float
    change: datetime | None = None  # the change of pace the estimate says it follows


class ApiBackend:
    """The real service, in-process over HTTP (ASGI)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.unmatched = 0

    async def __aenter__(self) -> ApiBackend:
        self.tmp = tempfile.TemporaryDirectory(prefix="almanac-loop-")
        settings = Settings(data_dir=Path(self.tmp.name), timezone=ZONE, _env_file=None)  # type: ignore[call-arg]
        settings.planner.calibration_half_life_days = self.params.half_life_days
        self.state = await build_state(settings)

        app = create_app(state=self.state)
        app.dependency_overrides[get_state] = lambda: self.state
        # In-process, like the CLI: the loop is measured, not authentication (auth_bench.py).
        app.dependency_overrides[authenticate] = lambda: LOCAL_OWNER
        self.api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=120
        )
        await self.call("POST", "/api/v1/planner/workflows/import")
        listed = await self.call("GET", "/api/v1/planner/workflows", params={"limit": 100})
        self.ids = {w["name"]: w["id"] for w in listed["items"]}
        self.names = {v: k for k, v in self.ids.items()}
        self.tasks = {w["name"]: library_hours(w["steps"]) for w in listed["items"]}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.api.aclose()
        await self.state.close()
        self.tmp.cleanup()

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        return answer(await self.api.request(method, path, **kw))

    async def plan(self, e: Engagement, mode: str, phrased: bool) -> tuple[Any, list[Planned]]:
        body: dict[str, Any] = {"intent": e.intent, "estimates": mode}
        if e.client is not None:
            body["client_id"] = e.client
        if not phrased:
            body["workflow_id"] = self.ids[e.workflow]
        r = await self.api.post("/api/v1/planner/plan", json=body)
        if r.status_code == 422 and "intent" in r.text and "workflow_id" not in body:
            # No workflow matched the phrasing: the consultant names the workflow instead.
            self.unmatched += 1
            body["workflow_id"] = self.ids[e.workflow]
            r = await self.api.post("/api/v1/planner/plan", json=body)
        plan = answer(r)
        out = [
            Planned(
                self.names[est["workflow_id"]],
                est["workflow_task"],
                est["library_hours"],
                est["hours"],
                est["low_hours"],
                est["high_hours"],
            )
            for est in plan["estimates"]
        ]
        return plan["id"], out

    async def execute(self, handle: Any, done: list[tuple[float, bool]], start: datetime) -> None:
        approved = await self.call("POST", f"/api/v1/planner/plans/{handle}/approve")
        for task_id, (hours, logged) in zip(approved["task_ids"], done, strict=True):
            if logged:
                await self._timed(task_id, hours, start)
            # Done whether or not its hours were logged; learning reads only done tasks.
            await self.call("PATCH", f"/api/v1/planner/tasks/{task_id}", json={"status": "done"})

    async def _timed(self, task_id: int, hours: float, start: datetime) -> None:
        """A timer on the task from `start`, stopped after `hours`."""
        run = await self.call(
            "POST",
            "/api/v1/planner/execution-runs",
            json={"task_id": task_id, "started_at": start.isoformat()},
        )
        await self.call(
            "POST",
            f"/api/v1/planner/execution-runs/{run['id']}/stop",
            json={
                "ended_at": (start + timedelta(hours=hours)).isoformat(),
                "actual_hours": round(hours, 3),
            },
        )

    async def probe(self, workflow: str, client: int | None) -> list[Planned]:
        """The calibrated plan for `workflow` and `client` now (a draft nobody executes)."""
        body: dict[str, Any] = {
            "intent": f"{workflow} (probe)",
            "workflow_id": self.ids[workflow],
            "estimates": "calibrated",
        }
        if client is not None:
            body["client_id"] = client
        plan = await self.call("POST", "/api/v1/planner/plan", json=body)
        return [
            Planned(
                workflow,
                est["workflow_task"],
                est["library_hours"],
                est["hours"],
                est["low_hours"],
                est["high_hours"],
                _when(est.get("change_detected_at")),
            )
            for est in plan["estimates"]
        ]

    async def reflect(self, monday: date) -> bool:
        r = await self.api.post(
            "/api/v1/observer/reflect", params={"mode": "weekly", "date": monday.isoformat()}
        )
        return r.status_code == 200


class DirectBackend:
    """The same estimator without HTTP or a database: for choosing parameters quickly."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.runs: dict[str, list[Run]] = defaultdict(list)
        self.instances = itertools.count(1)

    async def __aenter__(self) -> DirectBackend:
        self.tasks = {
            wf.name: library_hours([s.model_dump() for s in wf.steps])
            for _, wf in load_library().workflows
        }
        self.ids = {name: n for n, name in enumerate(sorted(self.tasks), start=1)}
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def plan(self, e: Engagement, mode: str, phrased: bool) -> tuple[Any, list[Planned]]:
        out = self._estimate(e.workflow, e.client, mode == "calibrated")
        return (e, out), out

    async def probe(self, workflow: str, client: int | None) -> list[Planned]:
        return self._estimate(workflow, client, True)

    def _estimate(self, workflow: str, client: int | None, calibrated: bool) -> list[Planned]:
        runs = self.runs[workflow]
        fitted = fit_workflow(self.ids[workflow], runs, self.params) if calibrated else None
        out = []
        for key, lib in self.tasks[workflow].items():
            est = predict(fitted, key, client, self.params) if runs and fitted else None
            est = est or predict(None, key, client, self.params)
            out.append(
                Planned(
                    workflow,
                    key,
                    lib,
                    round_hours(lib * est.ratio),
                    lib * est.low,
                    lib * est.high,
                    est.change_at,
                )
            )
        return out

    async def execute(self, handle: Any, done: list[tuple[float, bool]], start: datetime) -> None:
        e, planned = handle
        instance = next(self.instances)
        for p, (hours, logged) in zip(planned, done, strict=True):
            if logged:
                self.runs[p.workflow].append(
                    Run(
                        self.ids[p.workflow],
                        p.key,
                        e.client,
                        p.library,
                        hours,
                        start,
                        instance,
                        planned_hours=p.hours,
                    )
                )

    async def reflect(self, monday: date) -> bool:
        return True


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
