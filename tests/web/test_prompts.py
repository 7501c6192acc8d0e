"""Prompts: create a version, preview it, activate it, roll back."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.conftest import Server, Watch, shot

OPS = "/api/v1/planner/llm/operations"


def test_prompt_version_preview_activate_rollback(page: Page, server: Server) -> None:
    before = server.api("GET", "/api/v1/planner/prompts/sop_generator/versions").json()
    active_before = next(v["version"] for v in before if v["is_active"])
    # A version only saved, never chosen: rolling back passed over it to the one before.
    tried = server.api(
        "POST",
        "/api/v1/planner/prompts/sop_generator/versions",
        json={"content": before[0]["content"] + "\nA wording tried once (dashboard test)."},
    )
    assert tried.status_code == 201, tried.text
    page.goto(server.url + "/ui/prompts?name=sop_generator")
    editor = page.get_by_label("Template text")
    expect(editor).not_to_have_value("")
    editor.fill(editor.input_value() + "\nKeep every task under eight hours (dashboard test).")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator("#flash")).to_contain_text("not active yet")
    after = server.api("GET", "/api/v1/planner/prompts/sop_generator/versions").json()
    new = max(after, key=lambda v: int(v["version"][1:]))
    assert "dashboard test" in new["content"] and not new["is_active"]

    page.locator("#preview-form").get_by_label("Version").select_option(new["version"])
    page.get_by_label("Sample input").fill("Plan a product launch")
    page.locator("#preview-form").get_by_role("button", name="Preview").click()
    out = page.locator("#preview-out")
    expect(out).to_contain_text("dashboard test")
    expect(out).to_contain_text("Intent: Plan a product launch")

    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#prompt-diff")).to_contain_text("line(s) differ")

    page.get_by_role("button", name=f"Activate {new['version']}").click()
    expect(page.locator("#flash")).to_contain_text(f"{new['version']} is now active")
    active = server.api("GET", "/api/v1/planner/prompts/sop_generator").json()
    assert active["version"] == new["version"]
    shot(page, "prompts")

    page.get_by_role("button", name=f"Roll back to {active_before}", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Rolled back")
    active = server.api("GET", "/api/v1/planner/prompts/sop_generator").json()
    assert active["version"] == active_before


def test_choose_a_model_per_operation(page: Page, server: Server, watch: Watch) -> None:
    page.goto(server.url + "/ui/prompts")
    row = page.locator('#models-table tr[data-operation="reflection"]')
    expect(row).to_contain_text("settings")
    row.get_by_label("Model for reflection").fill("vendor/reflective-model")
    row.get_by_label("Temperature for reflection").fill("0.4")
    row.get_by_role("button", name="Save reflection").click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("reflection now uses vendor/reflective-model at temperature 0.4")
    expect(row).to_contain_text("chosen here")
    ops = {o["operation"]: o for o in server.api("GET", OPS).json()["operations"]}
    assert (ops["reflection"]["model"], ops["reflection"]["temperature"]) == (
        "vendor/reflective-model",
        0.4,
    )
    assert ops["planning"]["source"] == "settings"
    shot(page, "prompts-models")

    # A bad value is refused next to its field, and nothing changes.
    watch.expected.add(422)
    row.get_by_label("Max tokens for reflection").fill("0")
    row.get_by_role("button", name="Save reflection").click()
    expect(row.locator('.err[data-for="max_tokens"]')).not_to_be_empty()
    ops = {o["operation"]: o for o in server.api("GET", OPS).json()["operations"]}
    assert ops["reflection"]["max_tokens"] != 0

    row.get_by_role("button", name="Use settings for reflection").click()
    expect(flash).to_contain_text("reflection is back to the settings")
    ops = {o["operation"]: o for o in server.api("GET", OPS).json()["operations"]}
    assert ops["reflection"]["source"] == "settings"
