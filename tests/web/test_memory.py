"""Memory browser: create with the form, find by search and filters, a fact's history."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import Server, Watch, shot


def test_create_find_filter_and_fact_history(page: Page, server: Server) -> None:
    page.goto(server.url + "/ui/memory")
    form = page.locator("#remember-form")
    form.get_by_label("Memory").fill("Zebra42 workshop notes: the client prefers Friday demos")
    form.get_by_label("Salience (0–1)").fill("0.3")
    form.get_by_role("button", name="Remember").click()
    expect(page.locator("#flash")).to_contain_text("Remembered as memory")
    stored = server.api("GET", "/api/v1/memory/recall", params={"query": "Zebra42"}).json()
    assert stored["results"][0]["content"].startswith("Zebra42 workshop notes")

    # A fact, then its successor in the same slot: the second supersedes the first.
    facts = page.locator("#fact-form")
    facts.get_by_label("Subject id").fill("zebra-user")
    facts.get_by_label("Category").fill("demo_day")
    for content in ("Zebra42 demos happen on Fridays", "Zebra42 demos moved to Thursdays"):
        facts.get_by_label("Fact", exact=True).fill(content)
        facts.get_by_role("button", name="Add fact").click()
        expect(page.locator("#detail")).to_contain_text(content)
    expect(page.locator("#flash")).to_contain_text("supersedes fact")
    history = page.locator("#detail table")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history).to_contain_text("current")
    expect(history).to_contain_text("Zebra42 demos happen on Fridays")

    # Search, then filters: kind, subject, dates.
    search = page.locator("#search-form")
    search.get_by_label("Words or a question").fill("Zebra42")
    search.get_by_role("button", name="Search").click()
    results = page.locator("#results")
    expect(results).to_contain_text("Zebra42 workshop notes")
    expect(results).to_contain_text("Zebra42 demos moved to Thursdays")
    # Each hit says its relevance (comparable across searches, 0.5 the floor), not the
    # fused score, which only ranks one answer ("score 0.084" for the best match).
    found = server.api("GET", "/api/v1/memory/recall", params={"query": "Zebra42"}).json()
    first = found["results"][0]
    hit = results.get_by_role("button", name=first["content"][:30])
    expect(hit).to_contain_text(f"relevance {first['relevance']:.2f}")
    expect(results).not_to_contain_text("score")
    search.get_by_label("Kind").select_option("memory")
    search.get_by_role("button", name="Search").click()
    expect(results).to_contain_text("Zebra42 workshop notes")
    expect(results).not_to_contain_text("demos moved to Thursdays")
    search.get_by_label("Kind").select_option("preference")
    search.get_by_label("Subject (type:id)").fill("user:zebra-user")
    search.get_by_role("button", name="Search").click()
    expect(results).to_contain_text("demos moved to Thursdays")
    expect(results).not_to_contain_text("workshop notes")
    search.get_by_label("Kind").select_option("")
    search.get_by_label("Subject (type:id)").fill("")
    search.get_by_label("From").fill("2020-01-01")
    search.get_by_label("To").fill("2020-01-31")
    search.get_by_role("button", name="Search").click()
    expect(results).not_to_contain_text("workshop notes")
    search.get_by_label("From").fill("")
    search.get_by_label("To").fill("")
    search.get_by_role("button", name="Search").click()

    # A superseded fact's detail shows the history with its successor.
    results.get_by_role("button", name="demos moved to Thursdays").click()
    expect(page.locator("#detail")).to_contain_text("preference")
    expect(page.locator("#detail table tbody tr")).to_have_count(2)
    shot(page, "memory")


def test_fact_history_is_its_owners_slot_only(page: Page, server: Server) -> None:
    # A client's fact in the user's slot (subject, type, category) is not a version of the
    # user's own: both are current, and the user's history lists only the user's.
    slot = {"subject_type": "user", "subject_id": "zorg-user", "fact_type": "preference"}
    for content, client in (
        ("Zorg77 works nine to five", None),
        ("Zorg77 for client 101 works ten to two", 101),
        ("Zorg77 works eight to four", None),
    ):
        body = {**slot, "category": "hours", "content": content, "client_id": client}
        assert server.api("POST", "/api/v1/memory/facts", json=body).status_code == 201
    page.goto(server.url + "/ui/memory")
    search = page.locator("#search-form")
    search.get_by_label("Words or a question").fill("Zorg77")
    search.get_by_role("button", name="Search").click()
    page.locator("#results").get_by_role("button", name="works eight to four").click()
    history = page.locator("#detail table")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history).to_contain_text("Zorg77 works nine to five")
    expect(history).not_to_contain_text("for client 101")


def test_problem_shown_next_to_field(page: Page, server: Server, watch: Watch) -> None:
    watch.expected.add(422)
    page.goto(server.url + "/ui/memory")
    form = page.locator("#remember-form")
    form.get_by_label("Memory").fill("A first note that is kept")
    form.get_by_role("button", name="Remember").click()
    expect(page.locator("#flash")).to_contain_text("Remembered")
    form.get_by_label("Memory").fill("Salience out of range")
    form.get_by_label("Salience (0–1)").fill("7")
    form.get_by_role("button", name="Remember").click()
    err = form.locator('.err[data-for="salience_score"]')
    expect(err).to_contain_text("less than or equal to 1")
    expect(form.get_by_label("Salience (0–1)")).to_have_attribute("aria-invalid", "true")
    # The earlier success no longer stands beside the refusal (a probe saw both).
    expect(page.locator("#flash")).not_to_contain_text("Remembered")


def test_forget_subject_confirms_what_goes(page: Page, server: Server) -> None:
    r = server.api(
        "POST",
        "/api/v1/memory/facts",
        json={
            "subject_type": "client",
            "subject_id": "gone-co",
            "fact_type": "identity",
            "content": "Gone Co is a bakery",
        },
    )
    assert r.status_code == 201
    page.goto(server.url + "/ui/memory")
    forget = page.locator("#forget-form")
    forget.get_by_label("Subject type").fill("client")
    forget.get_by_label("Subject id").fill("gone-co")
    forget.get_by_role("button", name="Show what will be removed").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Gone Co is a bakery")
    left = server.api("GET", "/api/v1/memory/facts", params={"subject_id": "gone-co"}).json()
    assert len(left) == 1, "showing the confirmation must not delete anything"
    confirm.get_by_role("button", name="Forget client:gone-co").click()
    expect(page.locator("#forget-confirm")).to_contain_text("Forgot client:gone-co — facts: 1")
    assert server.api("GET", "/api/v1/memory/facts", params={"subject_id": "gone-co"}).json() == []


def test_forgetting_a_client_names_its_plans_before_and_after(page: Page, server: Server) -> None:
    """The confirmation named facts and memories only, and the result "Forgot 0 fact(s) and
    1 memory(ies)", while the client's plan, its tasks and template went too (a probe)."""
    r = server.api(
        "POST",
        "/api/v1/planner/plan",
        json={"intent": "Run a marketing audit for Acme", "client_id": 707},
    )
    assert r.status_code in (200, 201), r.text
    plan_id = r.json()["id"]
    assert server.api("POST", f"/api/v1/planner/plans/{plan_id}/approve").status_code == 200
    page.goto(server.url + "/ui/memory")
    forget = page.locator("#forget-form")
    forget.get_by_label("Subject type").fill("client")
    forget.get_by_label("Subject id").fill("707")
    forget.get_by_role("button", name="Show what will be removed").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("its 1 plan(s) with their tasks")
    confirm.get_by_role("button", name="Forget client:707").click()
    result = page.locator("#forget-confirm")
    expect(result).to_contain_text("plans: 1")
    expect(result).not_to_contain_text("embeddings")
    assert server.api("GET", f"/api/v1/planner/plans/{plan_id}").status_code == 404


def test_export_everything_downloads_the_import_file(page: Page, server: Server) -> None:
    marker = "dashboard-export-7e2a"
    r = server.api("POST", "/api/v1/memory/remember", json={"content": f"Note {marker}"})
    assert r.status_code == 201
    page.goto(server.url + "/ui/memory")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export everything").click()
    download = info.value
    assert download.suggested_filename.endswith(".jsonl")
    lines = Path(download.path()).read_text().splitlines()
    assert json.loads(lines[0])["format"] == "almanac-export"
    assert any(marker in line for line in lines[1:])


def test_archive_shows_what_would_go_before_it_archives(
    page: Page, server: Server, watch: Watch
) -> None:
    kept = server.api("POST", "/api/v1/memory/remember", json={"content": "Archive check note"})
    assert kept.status_code == 201
    page.goto(server.url + "/ui/memory")
    form = page.locator("#archive-form")
    watch.expected.add(422)
    form.get_by_label("Older than (days)").fill("0")
    form.get_by_role("button", name="Show what would be archived").click()
    expect(form.locator('.err[data-for="days"]')).not_to_be_empty()

    form.get_by_label("Older than (days)").fill("30")
    form.get_by_role("button", name="Show what would be archived").click()
    # Every memory of this test server is minutes old: nothing may go, and nothing went.
    expect(page.locator("#archive-out")).to_contain_text("Nothing to archive")
    still = server.api("GET", f"/api/v1/memory/events/{kept.json()['id']}")
    assert still.status_code == 200, still.text


def test_a_refused_search_says_why_once(page: Page, server: Server, watch: Watch) -> None:
    """The reason was shown twice: in place of the results and again under the form."""
    watch.expected.add(422)
    page.goto(server.url + "/ui/memory")
    search = page.locator("#search-form")
    search.get_by_label("Words or a question").fill("anything")
    # A window that ends before it starts: the API names `until`, so the reason stands
    # next to "To" only, not again in place of the results.
    search.get_by_label("From").fill("2026-02-10")
    search.get_by_label("To").fill("2026-02-01")
    search.get_by_role("button", name="Search").click()
    expect(search.locator('.err[data-for="until"]')).to_contain_text("must not be before since")
    expect(page.get_by_text("must not be before since")).to_have_count(1)
    expect(page.locator("#results")).not_to_contain_text("must not be before since")
    # A reason naming a field: next to that field only, the results emptied.
    search.get_by_label("From").fill("")
    search.get_by_label("To").fill("")
    search.get_by_label("Client id").fill("-3")
    search.get_by_role("button", name="Search").click()
    slot = search.locator('.err[data-for="client_id"]')
    expect(slot).not_to_be_empty()
    said = slot.inner_text()
    expect(page.get_by_text(said, exact=False)).to_have_count(1)
    expect(page.locator("#results")).not_to_contain_text(said)
    expect(page.locator("#results")).not_to_contain_text("must not be before since")


def test_a_date_beyond_the_years_is_refused_naming_it(
    page: Page, server: Server, watch: Watch
) -> None:
    """ "To" 9999-12-31 threw in the page (its next day was written "+010000-01", an Invalid
    Date) and the search said nothing; year 0001 was sent as 1901 (Date.UTC reads a year
    below 100 as 19xx) and searched 1901."""
    watch.expected.add(422)
    page.goto(server.url + "/ui/memory")
    search = page.locator("#search-form")
    search.get_by_label("Words or a question").fill("anything")
    search.get_by_label("To").fill("9999-12-31")
    search.get_by_role("button", name="Search").click()
    bound = "must lie between the years 1900 and 2200"
    expect(search.locator('.err[data-for="until"]')).to_contain_text(bound)
    search.get_by_label("To").fill("")
    search.get_by_label("From").fill("0001-01-01")
    search.get_by_role("button", name="Search").click()
    expect(search.locator('.err[data-for="since"]')).to_contain_text(bound)
