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


async def test_each_version_says_when_it_gave_way_so_a_rollback_finds_the_one_before(
    client: httpx.AsyncClient,
) -> None:
    """The dashboard rolled back to the version numbered below the active one: v2, only
    saved and never chosen, instead of v1, active before v3."""
    url = f"{PROMPTS}/weekly_review/versions"
    r = await client.post(url, json={"content": "Saved to try, never chosen."})
    assert r.status_code == 201, r.text
    r = await client.post(url, json={"content": "Chosen at once as saved.", "activate": True})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "v3"
    gave_way = {v["version"]: v["deactivated_at"] for v in (await client.get(url)).json()}
    assert gave_way["v2"] is None and gave_way["v3"] is None
    assert gave_way["v1"] is not None
    # v1 back, then v3 again: each gives way in turn, the latest is the one to go back to.
    await client.post(f"{url}/v1/activate")
    await client.post(f"{url}/v3/activate")
    after = {v["version"]: v["deactivated_at"] for v in (await client.get(url)).json()}
    assert after["v2"] is None and after["v3"] is not None
    assert after["v1"] is not None and after["v1"] > gave_way["v1"]
    # Activated again while active: it gives way to nothing, its `deactivated_at` stays.
    await client.post(f"{url}/v3/activate")
    await client.post(f"{url}/v3/activate")
    final = {v["version"]: v for v in (await client.get(url)).json()}
    assert final["v3"]["is_active"] and final["v3"]["deactivated_at"] == after["v3"]
