"""The shipped n8n workflows have what n8n 2.x needs to import and run them as they are.

Checked by hand against n8n 2.41.1 (commands in integrations/n8n/README.md): without a
workflow `id`, `n8n import:workflow` fails; `$env` in a node fails at run time under n8n
2.x's defaults; `n8n execute --id` needs a trigger it can start from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

N8N = Path(__file__).resolve().parents[2] / "integrations" / "n8n"
FILES = sorted(N8N.glob("*.json"))


def test_there_are_workflows():
    assert {f.name for f in FILES} >= {"daily_reflection.json", "weekly_review.json"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_structure(path: Path):
    text = path.read_text(encoding="utf-8")
    assert "$env" not in text  # n8n 2.x denies env access in nodes by default
    doc = json.loads(text)
    # `n8n import:workflow` needs an id; names and nodes as the editor writes them.
    assert isinstance(doc["id"], str) and re.fullmatch(r"[A-Za-z0-9-]{8,64}", doc["id"])
    assert doc["name"] and doc["settings"]["executionOrder"] == "v1"
    names = [n["name"] for n in doc["nodes"]]
    assert len(names) == len(set(names))
    ids = [n["id"] for n in doc["nodes"]]
    assert len(ids) == len(set(ids))
    for node in doc["nodes"]:
        assert node["type"].startswith("n8n-nodes-base.")
        assert isinstance(node["typeVersion"], int | float)
        assert len(node["position"]) == 2 and isinstance(node["parameters"], dict)
    for source, outputs in doc["connections"].items():
        assert source in names
        for branch in outputs["main"]:
            assert all(link["node"] in names for link in branch)
    by_type = {n["type"]: n for n in doc["nodes"]}
    # A schedule for the clock, a manual trigger to run it on demand, both reaching Almanac.
    schedule = by_type["n8n-nodes-base.scheduleTrigger"]
    manual = by_type["n8n-nodes-base.manualTrigger"]
    http = by_type["n8n-nodes-base.httpRequest"]

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        if start == goal:
            return True
        nexts = [
            link["node"]
            for branch in doc["connections"].get(start, {}).get("main", [])
            for link in branch
        ]
        return any(reaches(n, goal, seen | {start}) for n in nexts if n not in seen)

    assert reaches(schedule["name"], http["name"]) and reaches(manual["name"], http["name"])
    params = http["parameters"]
    assert params["method"] == "POST"
    assert "/api/v1/observer/reflect?mode=" in params["url"]
    headers = {h["name"]: h["value"] for h in params["headerParameters"]["parameters"]}
    assert "X-API-Key" in headers and headers["X-API-Key"]
    # URL and key are workflow parameters (the Set node), filled in after import.
    settings = by_type["n8n-nodes-base.set"]
    fields = {a["name"] for a in settings["parameters"]["assignments"]["assignments"]}
    assert fields == {"almanac_url", "api_key"}
