"""Prompt templates: seeded by the migration, versioned, one active version per name."""

from __future__ import annotations

import httpx

PROMPTS = "/api/v1/planner/prompts"
SEEDED = {
    "sop_generator",
    "schedule_optimizer",
    "daily_reflection",
    "weekly_review",
    "fact_extractor",
}


async def test_the_five_prompts_are_seeded_and_active(client: httpx.AsyncClient) -> None:
    r = await client.get(PROMPTS)
    summaries = {p["template_name"]: p for p in r.json()}
    assert SEEDED <= set(summaries)
    assert all(summaries[name]["active_version"] == "v1" for name in SEEDED)
    active = (await client.get(f"{PROMPTS}/sop_generator")).json()
    assert active["is_active"] and "depends_on" in active["content"]


async def test_an_edit_is_a_new_version_and_activation_switches(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{PROMPTS}/daily_reflection/versions",
        json={"content": "Write a two-line reflection from the numbers only."},
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "v2" and r.json()["is_active"] is False
    assert (await client.get(f"{PROMPTS}/daily_reflection")).json()["version"] == "v1"

    r = await client.post(f"{PROMPTS}/daily_reflection/versions/v2/activate")
    assert r.status_code == 200 and r.json()["is_active"]
    versions = (await client.get(f"{PROMPTS}/daily_reflection/versions")).json()
    assert [(v["version"], v["is_active"]) for v in versions] == [("v1", False), ("v2", True)]

    r = await client.post(
        f"{PROMPTS}/daily_reflection/versions",
        json={"content": "A third wording, active at once.", "activate": True},
    )
    assert r.json()["version"] == "v3"
    assert (await client.get(f"{PROMPTS}/daily_reflection")).json()["version"] == "v3"
    # The old text is still there to go back to.
    old = (await client.get(f"{PROMPTS}/daily_reflection/versions/v1")).json()
    assert "reflection" in old["content"]


async def test_unknown_names_versions_and_bad_input(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{PROMPTS}/nope_nope")).status_code == 404
    assert (await client.get(f"{PROMPTS}/sop_generator/versions/v99")).status_code == 404
    assert (await client.post(f"{PROMPTS}/sop_generator/versions/v99/activate")).status_code == 404
    assert (await client.get(f"{PROMPTS}/Bad-Name")).status_code == 422
    r = await client.post(f"{PROMPTS}/sop_generator/versions", json={"content": "short"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("content")
